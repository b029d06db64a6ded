"""Frozen VFM teachers (models/backbones/vfm.py) on tiny random models.

Weights are written in the official release layouts (DINOv2 hub, DINO v1, full
SAM checkpoints), loaded through ``build_vfm``, and the DINO/DINOv2 features are
recomputed here from the formulas of the official ``get_intermediate_layers``."""
import math

import pytest
import torch
import torch.nn.functional as F

from declip_mmseg.models.backbones.vfm import RELEASES, build_vfm
from declip_mmseg.registry import VFMS as VFM_BUILDERS
from declip_mmseg.testing.checkpoints import (
    DEPTH,
    DIM,
    DINO_PATCHES,
    DINOV2_PATCH,
    GRID,
    HEADS,
    NATIVE_GRID,
    TINY,
    TINY_SAM,
    dino_v1_weights,
    dinov2_hub_weights,
    full_sam_weights,
    sam_encoder,
    save,
)

# ------------------------------------------------------------------ release-format files

















def images(grid, patch, batch=2, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, grid[0] * patch, grid[1] * patch, generator=gen)


# ------------------------------------------------------------------ reference formulas

def ref_block(x, sd, prefix):
    """Pre-norm ViT block: x + ls1*attn(norm1 x); x + ls2*mlp(norm2 x)."""
    b, n, c = x.shape
    w = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    y = F.layer_norm(x, (c,), w['norm1.weight'], w['norm1.bias'], eps=1e-6)
    qkv = F.linear(y, w['attn.qkv.weight'], w['attn.qkv.bias'])
    q, k, v = qkv.reshape(b, n, 3, HEADS, c // HEADS).permute(2, 0, 3, 1, 4)
    attn = (q @ k.transpose(-2, -1) / math.sqrt(c // HEADS)).softmax(-1)
    y = F.linear((attn @ v).transpose(1, 2).reshape(b, n, c), w['attn.proj.weight'],
                 w['attn.proj.bias'])
    x = x + w.get('ls1.gamma', 1.0) * y
    y = F.layer_norm(x, (c,), w['norm2.weight'], w['norm2.bias'], eps=1e-6)
    y = F.linear(F.gelu(F.linear(y, w['mlp.fc1.weight'], w['mlp.fc1.bias'])),
                 w['mlp.fc2.weight'], w['mlp.fc2.bias'])
    return x + w.get('ls2.gamma', 1.0) * y


def dinov2_reg_pos(table, h, w):
    """hub dinov2_*_reg: bicubic to the size, antialias=True (interpolate_offset=0)."""
    return F.interpolate(table, size=(h, w), mode='bicubic', antialias=True)


def dino_v1_pos(table, h, w):
    """DINO v1: bicubic by scale factor (n + 0.1) / M, no antialias."""
    m = table.shape[-1]
    return F.interpolate(table, scale_factor=((h + 0.1) / m, (w + 0.1) / m), mode='bicubic')


def ref_features(sd, img, patch, resize_pos):
    """``get_intermediate_layers(img)[0]`` reshaped: last block, final norm, patch tokens."""
    x = F.conv2d(img, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'], stride=patch)
    b, c, h, w = x.shape
    x = x.flatten(2).transpose(1, 2)
    pos = sd['pos_embed']
    m = math.isqrt(pos.shape[1] - 1)
    table = pos[:, 1:].reshape(1, m, m, c).permute(0, 3, 1, 2)
    if (h, w) != (m, m):
        table = resize_pos(table, h, w)
    x = x + table.permute(0, 2, 3, 1).reshape(1, h * w, c)
    prefix = [(sd['cls_token'] + pos[:, :1]).expand(b, -1, -1)]
    if 'register_tokens' in sd:  # registers carry no position, sit after the class token
        prefix.append(sd['register_tokens'].expand(b, -1, -1))
    x = torch.cat(prefix + [x], dim=1)
    for i in range(DEPTH):
        x = ref_block(x, sd, f'blocks.{i}.')
    x = F.layer_norm(x, (c,), sd['norm.weight'], sd['norm.bias'], eps=1e-6)
    n_prefix = sum(t.shape[1] for t in prefix)
    return x[:, n_prefix:].reshape(b, h, w, c).permute(0, 3, 1, 2)


def ref_sam_features(encoder, img):
    """DeCLIP's ImageEncoderViT.forward: positions resized bicubically to the grid."""
    x = encoder.patch_embed(img)
    h, w = x.shape[1:3]
    pos = encoder.pos_embed.permute(0, 3, 1, 2)
    pos = F.interpolate(pos, size=(h, w), mode='bicubic', align_corners=False)
    x = x + pos.permute(0, 2, 3, 1)
    for block in encoder.blocks:
        x = block(x)
    return encoder.neck(x.permute(0, 3, 1, 2))


# ------------------------------------------------------------------ features

@pytest.mark.parametrize('name', ['dinov2-B', 'dinov2-L'])
@pytest.mark.parametrize('grid', [GRID, (NATIVE_GRID, NATIVE_GRID)])
def test_dinov2_hub_checkpoint_features(tmp_path, name, grid):
    sd = dinov2_hub_weights()
    vfm = build_vfm(name, save(tmp_path, 'dinov2_reg4.pth', sd), img_size=56, **TINY)
    img = images(grid, DINOV2_PATCH)
    out = vfm(img)
    assert vfm.patch_size == DINOV2_PATCH
    assert out.shape == (2, DIM, *grid)
    torch.testing.assert_close(out, ref_features(sd, img, DINOV2_PATCH, dinov2_reg_pos),
                               atol=1e-5, rtol=1e-5)


def test_dinov2_pos_resize_is_not_dino_v1s(tmp_path):
    """The reg4 hub models resize positions by size with antialias, not by DINO's +0.1 trick."""
    sd = dinov2_hub_weights()
    vfm = build_vfm('dinov2-B', save(tmp_path, 'd.pth', sd), img_size=56, **TINY)
    img = images(GRID, DINOV2_PATCH)
    other = ref_features(sd, img, DINOV2_PATCH, dino_v1_pos)
    assert (vfm(img) - other).abs().max() > 1e-3


def test_dinov2_timm_format_file(tmp_path):
    """timm's layout (``reg_token``, class position folded into ``cls_token``) loads the same."""
    hub = dinov2_hub_weights()
    timm_sd = {k: v for k, v in hub.items()
               if k not in ('mask_token', 'register_tokens', 'cls_token', 'pos_embed')}
    timm_sd.update(reg_token=hub['register_tokens'], cls_token=hub['cls_token'] + hub['pos_embed'][:, :1],
                   pos_embed=hub['pos_embed'][:, 1:])
    img = images(GRID, DINOV2_PATCH)
    from_hub = build_vfm('dinov2-B', save(tmp_path, 'hub.pth', hub), img_size=56, **TINY)(img)
    from_timm = build_vfm('dinov2-B', save(tmp_path, 'timm.pth', timm_sd), img_size=56, **TINY)(img)
    torch.testing.assert_close(from_hub, from_timm, atol=0, rtol=0)


@pytest.mark.parametrize('name', sorted(DINO_PATCHES))
@pytest.mark.parametrize('head', [True, False])
def test_dino_v1_features(tmp_path, name, head):
    patch = DINO_PATCHES[name]
    sd = dino_v1_weights(patch, head=head)
    vfm = build_vfm(name, save(tmp_path, 'dino.pth', sd), img_size=NATIVE_GRID * patch, **TINY)
    img = images(GRID, patch)
    out = vfm(img)
    assert vfm.patch_size == patch
    assert out.shape == (2, DIM, *GRID)
    torch.testing.assert_close(out, ref_features(sd, img, patch, dino_v1_pos), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('name', ['sam-B', 'sam-L'])
def test_sam_full_checkpoint_features(tmp_path, name):
    encoder = sam_encoder()
    vfm = build_vfm(name, save(tmp_path, 'sam.pth', full_sam_weights(encoder)), **TINY_SAM)
    img = images(GRID, 16)
    with torch.no_grad():
        out = vfm(img)
        assert vfm.patch_size == 16
        assert out.shape == (2, 256, *GRID)
        torch.testing.assert_close(out, ref_sam_features(encoder, img), atol=1e-5, rtol=1e-5)
        native = images((NATIVE_GRID, NATIVE_GRID), 16)
        torch.testing.assert_close(vfm(native), encoder(native), atol=1e-5, rtol=1e-5)


def test_sam_image_encoder_only_file(tmp_path):
    encoder = sam_encoder()
    full = build_vfm('sam-B', save(tmp_path, 'full.pth', full_sam_weights(encoder)), **TINY_SAM)
    only = build_vfm('sam-B', save(tmp_path, 'enc.pth', encoder.state_dict()), **TINY_SAM)
    img = images(GRID, 16)
    with torch.no_grad():
        torch.testing.assert_close(full(img), only(img), atol=0, rtol=0)


# ------------------------------------------------------------------ frozen

def _tiny_teacher(tmp_path, name):
    if name.startswith('dinov2'):
        return build_vfm(name, save(tmp_path, 'w.pth', dinov2_hub_weights()), img_size=56, **TINY)
    if name.startswith('dino'):
        patch = DINO_PATCHES[name]
        return build_vfm(name, save(tmp_path, 'w.pth', dino_v1_weights(patch)),
                         img_size=NATIVE_GRID * patch, **TINY)
    return build_vfm(name, save(tmp_path, 'w.pth', full_sam_weights(sam_encoder())), **TINY_SAM)


@pytest.mark.parametrize('name', sorted(VFM_BUILDERS))
def test_frozen_and_always_eval(tmp_path, name):
    vfm = _tiny_teacher(tmp_path, name)
    assert vfm.name == name
    assert vfm.mean == (0.485, 0.456, 0.406) and vfm.std == (0.229, 0.224, 0.225)
    assert not any(p.requires_grad for p in vfm.parameters())
    assert vfm.train() is vfm
    assert not any(m.training for m in vfm.modules())
    vfm.train(True)
    assert not any(m.training for m in vfm.modules())


# ------------------------------------------------------------------ errors

def test_registry_names():
    assert sorted(VFM_BUILDERS) == sorted(
        ['dinov2-B', 'dinov2-L', 'dino-B-8', 'dino-B-16', 'sam-B', 'sam-L'])
    assert set(RELEASES) == set(VFM_BUILDERS)


def test_unknown_name_lists_choices(tmp_path):
    with pytest.raises(ValueError, match='unknown VFM') as err:
        build_vfm('dinov3-B', str(tmp_path / 'x.pth'))
    for name in VFM_BUILDERS:
        assert name in str(err.value)


@pytest.mark.parametrize('name,file,url', [
    ('dinov2-B', 'dinov2_vitb14_reg4_pretrain.pth',
     'https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/dinov2_vitb14_reg4_pretrain.pth'),
    ('dinov2-L', 'dinov2_vitl14_reg4_pretrain.pth',
     'https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_reg4_pretrain.pth'),
    ('dino-B-8', 'dino_vitbase8_pretrain.pth',
     'https://dl.fbaipublicfiles.com/dino/dino_vitbase8_pretrain/dino_vitbase8_pretrain.pth'),
    ('dino-B-16', 'dino_vitbase16_pretrain.pth',
     'https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth'),
    ('sam-B', 'sam_vit_b_01ec64.pth',
     'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth'),
    ('sam-L', 'sam_vit_l_0b3195.pth',
     'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth'),
])
def test_missing_file_names_the_download(tmp_path, name, file, url):
    path = str(tmp_path / 'checkpoints' / 'teacher.pth')
    with pytest.raises(FileNotFoundError) as err:
        build_vfm(name, path, **TINY)
    msg = str(err.value)
    assert file in msg and url in msg and path in msg


def test_missing_key_is_an_error(tmp_path):
    sd = dinov2_hub_weights()
    del sd['blocks.1.ls2.gamma']
    path = save(tmp_path, 'broken.pth', sd)
    with pytest.raises(RuntimeError, match='missing') as err:
        build_vfm('dinov2-B', path, img_size=56, **TINY)
    assert path in str(err.value) and 'blocks.1.ls2.gamma' in str(err.value)


def test_unexpected_key_is_an_error(tmp_path):
    sd = dino_v1_weights(16)
    sd['blocks.7.attn.qkv.weight'] = torch.zeros(3 * DIM, DIM)
    path = save(tmp_path, 'deeper.pth', sd)
    with pytest.raises(RuntimeError, match='unexpected') as err:
        build_vfm('dino-B-16', path, img_size=64, **TINY)
    assert path in str(err.value) and 'blocks.7.attn.qkv.weight' in str(err.value)


def test_sam_unknown_part_is_an_error(tmp_path):
    sd = full_sam_weights(sam_encoder())
    sd['image_encoder.extra.weight'] = torch.zeros(1)
    with pytest.raises(RuntimeError, match='extra.weight'):
        build_vfm('sam-B', save(tmp_path, 'sam.pth', sd), **TINY_SAM)


def test_shape_mismatch_names_the_file(tmp_path):
    path = save(tmp_path, 'dinov2.pth', dinov2_hub_weights())
    with pytest.raises(RuntimeError, match='dinov2.pth'):
        build_vfm('dinov2-B', path, img_size=56, embed_dim=64, depth=DEPTH, num_heads=HEADS)


def test_dinov2_without_registers_is_refused(tmp_path):
    sd = dinov2_hub_weights()
    del sd['register_tokens']
    with pytest.raises(RuntimeError, match='reg4'):
        build_vfm('dinov2-B', save(tmp_path, 'noreg.pth', sd), img_size=56, **TINY)


def test_input_must_be_patch_multiple(tmp_path):
    vfm = _tiny_teacher(tmp_path, 'dinov2-B')
    with pytest.raises(ValueError, match='multiple of the patch size 14'):
        vfm(torch.zeros(1, 3, 70, 100))
