"""Weight loading: the real open_clip path on real files, and every bad-input error."""
import os

import pytest
import torch
from conftest import TINY_ARCH, write_tiny_clip

from declip_mmseg.clip import build_clip
from declip_mmseg.clip.sources import (
    load_checkpoint_file,
    looks_like_path,
    tag_needs_quick_gelu,
    weights_identity,
)


def test_loads_saved_weights_exactly(tiny_clip):
    arch, ckpt = tiny_clip
    model = build_clip(arch, ckpt)
    saved = torch.load(ckpt, weights_only=True)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, saved[key], rtol=0, atol=0)


@pytest.mark.parametrize('wrap', ['state_dict', 'module', 'both'])
def test_wrapped_checkpoints(tiny_clip, tmp_path, wrap):
    arch, ckpt = tiny_clip
    sd = torch.load(ckpt, weights_only=True)
    if wrap in ('module', 'both'):
        sd = {f'module.{k}': v for k, v in sd.items()}
    if wrap in ('state_dict', 'both'):
        sd = {'state_dict': sd, 'epoch': 3}
    path = str(tmp_path / 'wrapped.pt')
    torch.save(sd, path)
    a, b = build_clip(arch, ckpt), build_clip(arch, path)
    torch.testing.assert_close(a.visual.proj, b.visual.proj, rtol=0, atol=0)


def test_missing_file(tiny_clip):
    arch, _ = tiny_clip
    with pytest.raises(FileNotFoundError, match='checkpoints/absent.pt.*does not exist'):
        build_clip(arch, 'checkpoints/absent.pt')


def test_empty_file(tiny_clip, tmp_path):
    arch, _ = tiny_clip
    path = tmp_path / 'empty.pt'
    path.write_bytes(b'')
    with pytest.raises(RuntimeError, match='empty.pt.*is empty'):
        build_clip(arch, str(path))


def test_corrupt_and_truncated_files(tiny_clip, tmp_path):
    arch, ckpt = tiny_clip
    garbage = tmp_path / 'garbage.pt'
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(RuntimeError, match='garbage.pt.*corrupt or truncated'):
        build_clip(arch, str(garbage))
    data = open(ckpt, 'rb').read()
    cut = tmp_path / 'cut.pt'
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(RuntimeError, match='cut.pt.*corrupt or truncated'):
        build_clip(arch, str(cut))


def test_wrong_architecture(tiny_clip, tmp_path):
    arch, _ = tiny_clip
    other = dict(TINY_ARCH, vision_cfg=dict(TINY_ARCH['vision_cfg'], width=48))
    _, other_ckpt = write_tiny_clip(str(tmp_path), name='OtherCLIP-Test', arch=other)
    with pytest.raises(RuntimeError, match='OtherCLIP-Test.pt.*image tower \\(width 48'):
        build_clip(arch, other_ckpt)


def test_missing_and_unexpected_keys_are_named(tiny_clip, tmp_path):
    arch, ckpt = tiny_clip
    sd = torch.load(ckpt, weights_only=True)
    del sd['visual.proj']
    sd['visual.extra_head.weight'] = torch.zeros(2)
    path = str(tmp_path / 'partial.pt')
    torch.save(sd, path)
    with pytest.raises(RuntimeError) as err:
        build_clip(arch, path)
    msg = str(err.value)
    assert 'partial.pt' in msg and 'visual.proj' in msg and 'visual.extra_head.weight' in msg


def test_unknown_tag_and_model():
    with pytest.raises(ValueError, match="'no_such_tag'.*Known tags"):
        build_clip('ViT-B-16', 'no_such_tag')
    with pytest.raises(ValueError, match="Unknown CLIP architecture 'ViT-Q-99'"):
        build_clip('ViT-Q-99')


def test_quick_gelu_follows_the_tag():
    assert tag_needs_quick_gelu('ViT-B-16', 'openai')
    assert tag_needs_quick_gelu('ViT-L-14-336', 'openai')
    assert not tag_needs_quick_gelu('ViT-B-16', 'laion2b_s34b_b88k')


def test_quick_gelu_builds_quick_gelu_model():
    from open_clip.transformer import QuickGELU
    model = build_clip('ViT-B-16', None, quick_gelu=True)
    assert isinstance(model.visual.transformer.resblocks[0].mlp.gelu, QuickGELU)


def test_paths_and_identity(tiny_clip):
    arch, ckpt = tiny_clip
    assert looks_like_path(ckpt) and looks_like_path('x/y.pt') and not looks_like_path('openai')
    assert weights_identity('ViT-B-16', 'openai') == 'ViT-B-16:openai:-'
    ident = weights_identity(arch, ckpt)
    assert 'sha256:' in ident and ident == weights_identity(arch, ckpt)
    assert load_checkpoint_file(ckpt).keys() == torch.load(ckpt, weights_only=True).keys()
