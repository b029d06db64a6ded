"""DeCLIPViT (models/backbones/dense_clip_vit.py) against direct re-computations from the formulas."""
import math

import pytest
import torch
import torch.nn.functional as F

from declip_mmseg.clip import build_clip
from declip_mmseg.models import DeCLIPViT
from declip_mmseg.models.backbones.decoupled_attention import ATTN_MODES
from declip_mmseg.testing.reference import MODES, as_map, weights_formula


def reference(visual, img, mode, residual, ffn, scale):
    """Dense features computed head by head from the block's weights (native input size)."""
    p = visual.patch_size[0]
    grid = (img.shape[-2] // p, img.shape[-1] // p)
    x = visual._embeds(img)
    for blk in visual.transformer.resblocks[:-1]:
        x = blk(x)
    blk = visual.transformer.resblocks[-1]
    W, b = blk.attn.in_proj_weight, blk.attn.in_proj_bias
    D = x.shape[-1]
    heads = blk.attn.num_heads
    d = D // heads
    y = blk.ln_1(x)
    outs = []
    for img_tokens in y:
        q = img_tokens @ W[:D].T + b[:D]
        k = img_tokens @ W[D:2 * D].T + b[D:2 * D]
        v = img_tokens @ W[2 * D:].T + b[2 * D:]
        per_head = [weights_formula(mode, q[:, i * d:(i + 1) * d], k[:, i * d:(i + 1) * d],
                                    v[:, i * d:(i + 1) * d], scale, grid) @ v[:, i * d:(i + 1) * d]
                    for i in range(heads)]
        outs.append(torch.cat(per_head, dim=-1))
    out = blk.attn.out_proj(torch.stack(outs))
    if residual:
        out = x + out
    if ffn:
        out = out + blk.mlp(blk.ln_2(out))
    tokens = visual.ln_post(out)[:, 1:] @ visual.proj
    qk = F.linear(y, W, b)[:, 1:, :2 * D]
    return tokens, qk[..., :D], qk[..., D:]




@pytest.fixture(scope='module')
def visual(tiny_clip):
    arch, ckpt = tiny_clip
    return build_clip(arch, ckpt).visual


def test_registry_has_every_mode():
    assert set(ATTN_MODES) == set(MODES)


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('residual,ffn', [(False, False), (True, False), (True, True), (False, True)])
def test_modes_match_formula(tiny_clip, visual, mode, residual, ffn):
    arch, ckpt = tiny_clip
    backbone = DeCLIPViT(arch, ckpt, attn_mode=mode, residual=residual, ffn=ffn).eval()
    img = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        content, context = backbone(img)
        tokens, q, k = reference(visual, img, mode, residual, ffn, scale=(64 // 4) ** -0.5)
    assert content.shape == (2, 32, 4, 4)
    torch.testing.assert_close(content, as_map(tokens, 4, 4), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(context['q'], as_map(q, 4, 4), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(context['k'], as_map(k, 4, 4), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('scale', [1.0, 0.3])
def test_attn_scale(tiny_clip, visual, scale):
    arch, ckpt = tiny_clip
    backbone = DeCLIPViT(arch, ckpt, attn_mode='csa', attn_scale=scale).eval()
    img = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        content, _ = backbone(img)
        tokens, _, _ = reference(visual, img, 'csa', False, False, scale)
    torch.testing.assert_close(content, as_map(tokens, 4, 4), atol=1e-5, rtol=1e-4)


def test_plain_clip_mode_equals_open_clip_forward(tiny_clip, visual):
    """'qk' with residual and FFN is CLIP itself: open_clip's own tokens."""
    arch, ckpt = tiny_clip
    backbone = DeCLIPViT(arch, ckpt, attn_mode='qk', residual=True, ffn=True).eval()
    img = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        content, _ = backbone(img)
        x = visual.transformer(visual._embeds(img))
        expected = visual.ln_post(x)[:, 1:] @ visual.proj
    torch.testing.assert_close(content, as_map(expected, 4, 4), atol=1e-5, rtol=1e-4)


def clearclip_pos_embed(pos, gh, gw):
    """ClearCLIP's interpolate_pos_encoding, written out."""
    n = pos.shape[0] - 1
    g0 = int(math.sqrt(n))
    patch = pos[1:].reshape(1, g0, g0, -1).permute(0, 3, 1, 2)
    patch = F.interpolate(patch, scale_factor=((gh + 0.1) / math.sqrt(n), (gw + 0.1) / math.sqrt(n)),
                          mode='bicubic')
    return torch.cat([pos[:1], patch.permute(0, 2, 3, 1).reshape(gh * gw, -1)])


@pytest.mark.parametrize('size', [(40, 64), (64, 24), (8, 8), (48, 48)])
def test_non_square_inputs(tiny_clip, size):
    arch, ckpt = tiny_clip
    backbone = DeCLIPViT(arch, ckpt, attn_mode='qq').eval()
    h, w = size
    img = torch.randn(2, 3, h, w)
    with torch.no_grad():
        content, context = backbone(img)
        single, _ = backbone(img[1:])
    assert content.shape == (2, 32, h // 8, w // 8)
    assert context['q'].shape == context['k'].shape == (2, 64, h // 8, w // 8)
    torch.testing.assert_close(content[1:], single, atol=1e-5, rtol=1e-4)  # batch-independent
    pos = backbone.tower.visual.positional_embedding
    torch.testing.assert_close(backbone.tower.pos_embed((h // 8, w // 8)),
                               clearclip_pos_embed(pos, h // 8, w // 8))


def test_positions_matter(tiny_clip):
    """The interpolated positions really enter: shifting content changes features."""
    arch, ckpt = tiny_clip
    backbone = DeCLIPViT(arch, ckpt).eval()
    img = torch.randn(1, 3, 40, 64)
    with torch.no_grad():
        a, _ = backbone(img)
        b, _ = backbone(torch.roll(img, shifts=8, dims=-1))
    assert not torch.allclose(torch.roll(a, 1, dims=-1)[..., 1:], b[..., 1:], atol=1e-3)


def test_rejects_sizes_off_the_patch_grid(tiny_clip):
    arch, ckpt = tiny_clip
    backbone = DeCLIPViT(arch, ckpt)
    with pytest.raises(ValueError, match='multiple of the patch size 8'):
        backbone(torch.randn(1, 3, 30, 32))


def test_unknown_mode(tiny_clip):
    arch, ckpt = tiny_clip
    with pytest.raises(ValueError, match="attn_mode 'q-q' is unknown"):
        DeCLIPViT(arch, ckpt, attn_mode='q-q')


def test_train_mode_gradients(tiny_clip):
    arch, ckpt = tiny_clip
    backbone = DeCLIPViT(arch, ckpt, attn_mode='csa').train()
    content, context = backbone(torch.randn(2, 3, 32, 48))
    (content.square().mean() + context['q'].mean() + context['k'].mean()).backward()
    last = backbone.tower.visual.transformer.resblocks[-1]
    first = backbone.tower.visual.transformer.resblocks[0]
    assert last.attn.in_proj_weight.grad is not None
    assert first.mlp.c_fc.weight.grad.abs().sum() > 0
    assert last.mlp.c_fc.weight.grad is None  # FFN of the last block is not used
