"""declip_mmseg.clip.factory: building a CLIP from a name and weights; every checkpoint format, and
weights of another architecture named with the fix."""
import os
import os.path as osp

import pytest
import torch

from declip_mmseg.clip import build_clip
from declip_mmseg.clip.sources import (
    load_checkpoint_file,
    looks_like_path,
    tag_needs_quick_gelu,
    weights_identity,
)
from declip_mmseg.testing import TINY_ARCH, write_tiny_clip


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


# -- checkpoints --------------------------------------------------------------------------------
def test_file_of_another_width_names_its_architecture(tiny_clip, tmp_path):
    from declip_mmseg.clip import build_clip
    arch, _ = tiny_clip
    wider = dict(TINY_ARCH, text_cfg=dict(TINY_ARCH['text_cfg'], width=48))
    _, other = write_tiny_clip(str(tmp_path), name='WiderText-Test', arch=wider)
    with pytest.raises(RuntimeError) as err:
        build_clip(arch, other)
    msg = str(err.value)
    assert other in msg and 'text tower width 48' in msg and 'TinyCLIP-Test' in msg


def fake_checkpoint(path, model_name):
    """A file with the shapes (not the size) of an open_clip architecture: every tensor the
    architecture reader looks at, blocks as 1-element tensors."""
    import open_clip
    cfg = open_clip.get_model_config(model_name)
    v, t = cfg['vision_cfg'], cfg['text_cfg']
    grid = v['image_size'] // v['patch_size']
    sd = {'visual.conv1.weight': torch.zeros(v['width'], 3, v['patch_size'], v['patch_size']),
          'visual.positional_embedding': torch.zeros(grid * grid + 1, v['width']),
          'visual.proj': torch.zeros(v['width'], cfg['embed_dim']),
          'positional_embedding': torch.zeros(t['context_length'], t['width']),
          'token_embedding.weight': torch.zeros(1, t['width']),
          'text_projection': torch.zeros(t['width'], cfg['embed_dim'])}
    sd.update({f'visual.transformer.resblocks.{i}.ln_1.weight': torch.zeros(1)
               for i in range(v['layers'])})
    sd.update({f'transformer.resblocks.{i}.ln_1.weight': torch.zeros(1)
               for i in range(t['layers'])})
    torch.save(sd, path)


def test_vit_l14_file_for_a_vit_b16_config(tmp_path):
    from declip_mmseg.clip import build_clip
    path = str(tmp_path / 'ViT-L-14.pt')
    fake_checkpoint(path, 'ViT-L-14')
    with pytest.raises(RuntimeError) as err:
        build_clip('ViT-B-16', path)
    msg = str(err.value)
    assert path in msg and 'holds a ViT-L-14 CLIP' in msg and "model_name is 'ViT-B-16'" in msg
    assert "model_name='ViT-L-14'" in msg and '--model ViT-L-14' in msg


def test_training_checkpoint_points_to_the_exported_student(tiny_eva, tmp_path):
    """The distiller's own mmengine checkpoint, in the layout mmengine's Runner writes."""
    from mmengine.logging import MessageHub
    from mmseg.registry import MODELS

    from declip_mmseg.clip import build_clip
    arch, ckpt = tiny_eva
    distiller = MODELS.build(dict(type='DeCLIPDistiller', student=dict(
        type='DeCLIPViT', model_name=arch, pretrained=ckpt, attn_mode='csa')))
    hub = MessageHub.get_instance('bad_input_train')
    hub.update_scalar('train/loss', 1.5)
    path = str(tmp_path / 'epoch_5.pth')
    cfg_text = "custom_hooks = [dict(type='DeCLIPDistillHook', export_name='declip_student.pt')]"
    torch.save({'meta': {'epoch': 5, 'iter': 10, 'cfg': cfg_text},
                'state_dict': distiller.state_dict(),
                'message_hub': hub.state_dict(), 'optimizer': {'state': {}, 'param_groups': []}},
               path)
    for trusted in ('0', '1'):
        os.environ['DECLIP_TRUSTED_CHECKPOINTS'] = trusted
        try:
            with pytest.raises(RuntimeError) as err:
                build_clip(arch, path)
        finally:
            os.environ.pop('DECLIP_TRUSTED_CHECKPOINTS')
        msg = str(err.value)
        assert path in msg and 'training checkpoint of a distiller' in msg
        assert osp.join(str(tmp_path), 'declip_student.pt') in msg and 'download' not in msg


def test_training_checkpoint_names_the_student_file_of_its_method(tiny_eva, tmp_path):
    """A DenseVLM run's checkpoint points at densevlm_student.pt (named in the config mmengine
    keeps in the checkpoint), never at DeCLIP's file."""
    from declip_mmseg.clip.sources import _training_checkpoint_message
    path = str(tmp_path / 'epoch_1.pth')
    cfg_text = "custom_hooks = [dict(type='DistillHook', export_name='densevlm_student.pt')]"
    msg = _training_checkpoint_message(path, True, cfg_text.encode())
    assert osp.join(str(tmp_path), 'densevlm_student.pt') in msg and 'declip_student' not in msg
    # without the config: the one student file in the folder, else the list of names
    assert 'densevlm_student.pt, clipself_student.pt' in _training_checkpoint_message(path, True)
    (tmp_path / 'clipself_student.pt').write_bytes(b'x')
    msg = _training_checkpoint_message(path, True)
    assert f'--checkpoint {tmp_path}/clipself_student.pt' in msg and 'same folder' in msg


# -- non-finite weights and empty weight sources ------------------------------------------------
@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_weights_are_refused_naming_file_and_tensor(tiny_clip, tmp_path, bad):
    from declip_mmseg.clip import NonFiniteWeightsError
    arch, ckpt = tiny_clip
    state = torch.load(ckpt, weights_only=True)
    key = next(k for k, v in state.items() if k.startswith('visual.') and v.is_floating_point()
               and v.dim() == 2)
    state[key][0, 1] = bad
    path = str(tmp_path / 'one_bad.pt')
    torch.save(state, path)
    with pytest.raises(NonFiniteWeightsError) as err:
        build_clip(arch, path)
    msg = str(err.value)
    assert path in msg and f"'{key}'" in msg and '1 non-finite' in msg
    assert ('NaN' if bad != bad else 'Inf') in msg


def test_non_finite_vfm_weights_are_refused(tmp_path):
    from declip_mmseg.clip import NonFiniteWeightsError
    from declip_mmseg.models.backbones.vfm import read_weights
    path = str(tmp_path / 'dino.pth')
    torch.save({'model': {'a': torch.ones(2), 'b': torch.tensor([1.0, float('nan')])}}, path)
    with pytest.raises(NonFiniteWeightsError, match="dino.pth.*tensor 'b'"):
        read_weights('dinov2-B', path)


@pytest.mark.parametrize('source', ['', '   '])
def test_empty_weight_source_is_an_error_not_random_weights(tiny_clip, source):
    arch, ckpt = tiny_clip
    with pytest.raises(ValueError, match='empty weight source'):
        build_clip(arch, source)
    with pytest.raises(ValueError, match="checkpoint is .*empty weight source"):
        build_clip(arch, ckpt, checkpoint=source)


def test_export_refuses_non_finite_weights_and_writes_safely(tiny_clip, tmp_path, monkeypatch):
    from declip_mmseg.clip import NonFiniteWeightsError, detach_visual, factory, save_clip
    from declip_mmseg.fileio import OutputWriteError
    arch, ckpt = tiny_clip
    clip = build_clip(arch, ckpt)
    visual = detach_visual(clip).state_dict()
    path = tmp_path / 'student.pt'
    save_clip(clip, visual, str(path))
    before = path.read_bytes()
    broken = dict(visual)
    key = next(iter(k for k, v in broken.items() if v.is_floating_point()))
    broken[key] = broken[key].clone().fill_(float('nan'))
    with pytest.raises(NonFiniteWeightsError, match=f"refusing to export '{path}'.*'visual.{key}'"):
        save_clip(clip, broken, str(path))
    assert path.read_bytes() == before  # the earlier export is untouched

    def full_disk(obj, f, *args, **kwargs):
        open(f, 'wb').write(b'partial')
        raise RuntimeError('[enforce fail at inline_container.cc:778] . unexpected pos 64')
    monkeypatch.setattr(factory.torch, 'save', full_disk)
    with pytest.raises(OutputWriteError, match='student.pt.*No space left'):
        save_clip(clip, visual, str(path))
    assert path.read_bytes() == before and os.listdir(tmp_path) == ['student.pt']


def test_other_input_size_is_resized_with_a_warning(tiny_clip, tmp_path):
    from declip_mmseg.clip import build_clip
    arch, _ = tiny_clip
    bigger = dict(TINY_ARCH, vision_cfg=dict(TINY_ARCH['vision_cfg'], image_size=64))
    _, other = write_tiny_clip(str(tmp_path), name='Tiny64-Test', arch=bigger)
    with pytest.warns(UserWarning, match='64 px input.*32 px'):
        build_clip(arch, other)


def test_eva_file_for_a_vit_config_names_its_architecture(tiny_clip, tiny_eva):
    from declip_mmseg.clip import build_clip
    from declip_mmseg.clip.architecture import architecture_of
    eva_arch, eva_ckpt = tiny_eva
    info = architecture_of(torch.load(eva_ckpt, weights_only=True))
    assert info['vision'] == 'EVA' and info['vision_width'] == 64 and info['vision_layers'] == 3
    assert info['patch_size'] == 8 and info['text_width'] == 32
    with pytest.raises(RuntimeError) as err:
        build_clip(tiny_clip[0], eva_ckpt)
    assert eva_ckpt in str(err.value) and 'EVA image tower' in str(err.value)
