"""configs/catseg through tools/test.py: a raw ADE20K-full converted, a tiny CAT-Seg in the released
format as --checkpoint, the ADE-847 config (847 class lines, top-k path), --show-dir."""
import os
import re

import pytest

from declip_mmseg.datasets.converters import convert_ade20k_full
from declip_mmseg.testing.catseg import (
    TINY_CATSEG_AGGREGATOR,
    build_tiny_catseg,
    make_raw_ade_full,
    write_released_catseg,
)
from declip_mmseg.testing.tools import REPO


def write_tiny_config(path, dataset: str, arch: str, extra: str = '', model_extra: str = ''):
    """The DeCLIP B/16 CAT-Seg config of ``dataset`` shrunk to the tiny CAT-Seg (narrow towers,
    48 px slide protocol), plus ``model_extra`` model keys and ``extra`` config lines."""
    aggregator = {k: v for k, v in TINY_CATSEG_AGGREGATOR.items() if k != 'type'}
    path.write_text(
        f"_base_ = [{os.path.join(REPO, f'configs/catseg/catseg_declip-eva02-b16_{dataset}.py')!r}]\n"
        f"model = dict(backbone=dict(model_name={arch!r}), aggregator=dict(**{aggregator!r}),\n"
        "    clip_resolution=(32, 32), guidance_layers=(0, 1), upsample_dims=(16, 8),\n"
        f"    slide_size=(48, 48), slide_crop=32, slide_stride=16, size_divisor=8{model_extra})\n"
        + extra)
    return path


@pytest.mark.slow
def test_ade847_config_runs_end_to_end(tiny_eva, tmp_path, run_tool):
    arch, ckpt = tiny_eva
    root = make_raw_ade_full(str(tmp_path / 'ADE20K_2021_17_01'))
    convert_ade20k_full(root, log=None)
    release = write_released_catseg(build_tiny_catseg(arch, pretrained=ckpt),
                                    str(tmp_path / 'catseg.pth'))
    config = write_tiny_config(tmp_path / 'tiny_ade847.py', 'ade847', arch,
                               "test_dataloader = dict(num_workers=0, persistent_workers=False,\n"
                               f"    dataset=dict(data_root={root!r}))\n")
    show = tmp_path / 'show'
    proc = run_tool('test', [str(config), '--checkpoint', release, '--work-dir', str(tmp_path / 'work'),
                             '--show-dir', str(show)])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert 'Iter(test) [3/3]' in out
    miou = float(re.findall(r'mIoU: ([\d.]+)', out)[-1])
    assert 0 <= miou <= 100
    drawings = os.listdir(show / 'vis_data' / 'vis_image')
    assert len([d for d in drawings if d.endswith('.png')]) == 3


@pytest.mark.slow
def test_open_vocab_inferencer(tiny_eva, tmp_path):
    """tools/demo.py's inferencer: a CAT-Seg config, a free vocabulary, keep_seg_logits."""
    import numpy as np
    from PIL import Image

    from declip_mmseg.apis.inference import OpenVocabInferencer
    arch, ckpt = tiny_eva
    release = write_released_catseg(build_tiny_catseg(arch, pretrained=ckpt),
                                    str(tmp_path / 'catseg.pth'))
    config = write_tiny_config(tmp_path / 'tiny_demo.py', 'ade150', arch,
                               model_extra=', keep_seg_logits=True')
    image = str(tmp_path / 'photo.jpg')
    Image.fromarray((np.random.default_rng(0).random((50, 70, 3)) * 255).astype(np.uint8)).save(image)
    inferencer = OpenVocabInferencer(str(config), classes='cat; dog, puppy; grass', checkpoint=release)
    assert inferencer.windows(500, 700) == 5  # four windows and the global view
    result = inferencer(image)
    assert result.class_names == ['cat', 'dog', 'grass']
    assert result.labels.shape == (50, 70) and result.probs.shape == (3, 50, 70)
    assert set(np.unique(result.labels)) <= {0, 1, 2}
    inferencer.set_classes('sky; tree')
    assert inferencer(image).probs.shape == (2, 50, 70)
