"""clip/sources.py: weight paths with ``~``, zip archives of checkpoints."""
import shutil
import zipfile

import pytest
import torch


def test_tilde_in_a_weights_path_is_expanded(tiny_clip, tmp_path, monkeypatch):
    from mmengine.config import Config

    from declip_mmseg.apis.checks import check_weights
    from declip_mmseg.clip import build_clip, load_checkpoint_file, weights_identity
    arch, ckpt = tiny_clip
    (tmp_path / 'ckpt').mkdir()
    shutil.copy(ckpt, tmp_path / 'ckpt' / 'tiny.pt')
    monkeypatch.setenv('HOME', str(tmp_path))
    source = '~/ckpt/tiny.pt'
    assert load_checkpoint_file(source).keys() == load_checkpoint_file(ckpt).keys()
    check_weights(Config(dict(model=dict(backbone=dict(model_name=arch, pretrained=source)))))
    build_clip(arch, pretrained=source)
    assert weights_identity(arch, source) == weights_identity(arch, ckpt)


def test_zip_archive_of_a_checkpoint_is_named_not_corrupt(tiny_clip, tmp_path):
    from declip_mmseg.clip import load_checkpoint_file
    from declip_mmseg.models.backbones.vfm import read_weights
    _, ckpt = tiny_clip
    archive = tmp_path / 'model.zip'
    with zipfile.ZipFile(archive, 'w') as z:
        z.write(ckpt, 'model.pt')
    for read in (load_checkpoint_file, lambda p: read_weights('dinov2-B', p)):
        with pytest.raises(RuntimeError) as err:
            read(str(archive))
        msg = str(err.value)
        assert 'is a zip archive' in msg and "'model.pt'" in msg and 'Unpack it' in msg
        assert 'corrupt' not in msg
    # torch.save's own zip format loads whatever the file is called
    renamed = tmp_path / 'weights.zip'
    shutil.copy(ckpt, renamed)
    assert load_checkpoint_file(str(renamed)).keys() == torch.load(ckpt, weights_only=True).keys()
