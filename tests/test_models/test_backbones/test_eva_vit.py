"""EVA02 towers (models/backbones/eva_vit.py): DeCLIP's formulas, and every checkpoint format loading
to the same model."""
import math
import os

import open_clip
import pytest
import torch
import torch.nn.functional as F

from declip_mmseg.clip import build_clip
from declip_mmseg.clip.formats import to_open_clip
from declip_mmseg.models import DeCLIPViT
from declip_mmseg.testing.checkpoints import eva_clip_state_dict
from declip_mmseg.testing.reference import MODES, as_map, weights_formula

# -- writers of the real key formats (inverse of the loader's conversion) ------------




def write(obj, path):
    torch.save(obj, path)
    return str(path)


@pytest.fixture(scope='module')
def eva_files(tiny_eva, tmp_path_factory):
    arch, ckpt = tiny_eva
    folder = tmp_path_factory.mktemp('eva_formats')
    sd = torch.load(ckpt, weights_only=True)
    eva = eva_clip_state_dict(sd)
    files = {
        'open_clip': ckpt,
        'eva_clip': write(eva, folder / 'EVA02_CLIP_tiny.pt'),
        'declip': write({'epoch': 6, 'name': 'declip', 'state_dict': eva,
                         'optimizer': {'state': {}, 'param_groups': []}}, folder / 'declip.pt'),
        'densevlm_resumed': write({'epoch': 6, 'state_dict': {f'module.{k}': v for k, v in eva.items()}},
                                  folder / 'densevlm.pt'),
        'visual_only': write(eva_clip_state_dict(sd, text=False), folder / 'visual_only.pt'),
        'visual_only_unprefixed': write(eva_clip_state_dict(sd, visual_prefix='', text=False),
                                        folder / 'visual_only_bare.pt'),
    }
    return arch, files


def features(arch, **kw):
    backbone = DeCLIPViT(arch, attn_mode='csa', attn_scale=1.0, **kw).eval()
    with torch.no_grad():
        torch.manual_seed(0)
        return backbone(torch.randn(2, 3, 48, 40))


@pytest.mark.parametrize('fmt', ['eva_clip', 'declip', 'densevlm_resumed'])
def test_full_formats_load_exactly(eva_files, fmt):
    arch, files = eva_files
    native = build_clip(arch, files['open_clip'])
    loaded = build_clip(arch, files[fmt])  # strict: raises on any missing / unexpected key
    for (k, a), (k2, b) in zip(native.state_dict().items(), loaded.state_dict().items()):
        assert k == k2
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    ref, _ = features(arch, pretrained=files['open_clip'])
    out, _ = features(arch, pretrained=files[fmt])
    torch.testing.assert_close(out, ref, rtol=0, atol=0)


@pytest.mark.parametrize('fmt', ['visual_only', 'visual_only_unprefixed'])
def test_visual_only_needs_a_base(eva_files, tmp_path, fmt):
    arch, files = eva_files
    with pytest.raises(RuntimeError) as err:
        build_clip(arch, files[fmt])
    msg = str(err.value)
    assert os.path.basename(files[fmt]) in msg and 'text.' in msg and 'only the image tower' in msg
    # the explicit way: base weights for the text tower, fine-tuned image tower on top
    base = build_clip(arch, None).state_dict()
    base = {k: (v + 1.0 if k.startswith('visual.') else v) for k, v in base.items()}
    base_path = write(base, tmp_path / 'base.pt')
    model = build_clip(arch, base_path, checkpoint=files[fmt])
    native = build_clip(arch, files['open_clip'])
    torch.testing.assert_close(model.visual.trunk.pos_embed, native.visual.trunk.pos_embed)
    torch.testing.assert_close(model.text.text_projection, base['text.text_projection'])


def test_wrong_and_truncated_eva_checkpoints(eva_files, tmp_path):
    arch, files = eva_files
    eva = torch.load(files['eva_clip'], weights_only=True)
    del eva['visual.blocks.1.attn.q_bias']
    eva['visual.blocks.0.attn.relative_position_bias_table'] = torch.zeros(3)
    bad = write(eva, tmp_path / 'bad.pt')
    with pytest.raises(RuntimeError) as err:
        build_clip(arch, bad)
    msg = str(err.value)
    assert 'bad.pt' in msg and 'visual.trunk.blocks.1.attn.q_proj.bias' in msg
    assert 'relative_position_bias_table' in msg
    data = open(files['declip'], 'rb').read()
    cut = tmp_path / 'cut.pt'
    cut.write_bytes(data[:len(data) * 2 // 3])
    with pytest.raises(RuntimeError, match='cut.pt.*corrupt or truncated'):
        build_clip(arch, str(cut))
    with pytest.raises(RuntimeError, match='EVA02 architecture'):
        build_clip('ViT-B-16', files['eva_clip'])


@pytest.mark.parametrize('model_name', ['EVA02-B-16', 'EVA02-L-14-336'])
def test_full_size_key_sets_map_completely(model_name):
    """Random weights of the real shapes (on the meta device), in EVA-CLIP naming."""
    with torch.device('meta'):
        model = open_clip.create_model(model_name, device='meta')
    own = model.state_dict()
    eva = eva_clip_state_dict(own)
    assert 'visual.blocks.0.attn.q_bias' in eva and 'visual.blocks.0.mlp.w3.weight' in eva
    converted, fmt = to_open_clip(eva, model)
    assert fmt == 'eva_clip'
    assert sorted(converted) == sorted(own)
    assert all(converted[k].shape == own[k].shape for k in own)
    depth = 12 if model_name == 'EVA02-B-16' else 24
    assert f'visual.trunk.blocks.{depth - 1}.attn.q_proj.bias' in converted


# -- DeCLIP's EVA arithmetic, written out ----------------------------------------------
def rotate_half(x):
    x = x.reshape(*x.shape[:-1], -1, 2)
    return torch.stack([-x[..., 1], x[..., 0]], dim=-1).flatten(-2)


def declip_rope(n, head_dim, pt=16):
    """EVA-CLIP's VisionRotaryEmbeddingFast for an n x n grid (cos, sin), each (n*n, head_dim)."""
    dim = head_dim // 2
    freqs = 1. / (10000 ** (torch.arange(0, dim, 2)[:(dim // 2)].float() / dim))
    t = torch.arange(n) / n * pt
    f = torch.einsum('i,f->if', t, freqs).repeat_interleave(2, dim=-1)
    f = torch.cat([f[:, None, :].expand(n, n, dim), f[None, :, :].expand(n, n, dim)], dim=-1)
    return f.cos().reshape(n * n, -1), f.sin().reshape(n * n, -1)


def eva_reference(trunk, img, mode, scale):
    """Dense features the way DeCLIP's eva_vit_model.encode_dense computes them (square grids)."""
    p = trunk.patch_embed.patch_size[0]
    x = F.conv2d(img, trunk.patch_embed.proj.weight, trunk.patch_embed.proj.bias, stride=p)
    n = x.shape[-1]
    x = torch.cat([trunk.cls_token.expand(x.shape[0], -1, -1), x.flatten(2).transpose(1, 2)], 1)
    g0 = int(math.sqrt(trunk.pos_embed.shape[1] - 1))
    if n != g0:
        pe = trunk.pos_embed[0, 1:].T.reshape(1, -1, g0, g0)
        pe = F.interpolate(pe, (n, n), mode='bicubic', align_corners=False).reshape(-1, n * n).T
        pos = torch.cat([trunk.pos_embed[0, :1], pe])[None]
    else:
        pos = trunk.pos_embed
    x = x + pos
    B, N, D = x.shape
    H = trunk.blocks[0].attn.num_heads
    cos, sin = declip_rope(n, D // H)

    def qkv(blk, y):
        q = F.linear(y, blk.attn.q_proj.weight, blk.attn.q_proj.bias)
        k = F.linear(y, blk.attn.k_proj.weight)
        v = F.linear(y, blk.attn.v_proj.weight, blk.attn.v_proj.bias)
        return [t.reshape(B, N, H, -1).permute(0, 2, 1, 3) for t in (q, k, v)]

    for blk in trunk.blocks[:-1]:
        q, k, v = qkv(blk, blk.norm1(x))
        q = torch.cat([q[:, :, :1], q[:, :, 1:] * cos + rotate_half(q[:, :, 1:]) * sin], 2)
        k = torch.cat([k[:, :, :1], k[:, :, 1:] * cos + rotate_half(k[:, :, 1:]) * sin], 2)
        attn = ((q * (D // H) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        o = (attn @ v).transpose(1, 2).reshape(B, N, D)
        x = x + blk.attn.proj(blk.attn.norm(o))
        m = blk.norm2(x)
        hidden = F.silu(blk.mlp.fc1_g(m)) * blk.mlp.fc1_x(m)
        x = x + blk.mlp.fc2(blk.mlp.norm(hidden))
    blk = trunk.blocks[-1]
    q, k, v = qkv(blk, blk.norm1(x))
    outs = []
    for b in range(B):
        grid = (n, n)
        heads = [weights_formula(mode, q[b, h], k[b, h], v[b, h], scale, grid) @ v[b, h]
                 for h in range(H)]
        outs.append(torch.cat(heads, -1))
    x = blk.attn.proj(blk.attn.norm(torch.stack(outs)))
    tokens = trunk.head(trunk.norm(x[:, 1:]))
    merge = lambda t: t.permute(0, 2, 1, 3).reshape(B, N, D)[:, 1:]  # noqa: E731
    return tokens, merge(q), merge(k), n


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('size', [32, 48])  # the pretraining grid (4x4) and a larger one (6x6)
def test_eva_modes_match_declip_formulas(tiny_eva, mode, size):
    arch, ckpt = tiny_eva
    backbone = DeCLIPViT(arch, ckpt, attn_mode=mode, attn_scale=1.0).eval()
    img = torch.randn(2, 3, size, size)
    with torch.no_grad():
        content, context = backbone(img)
        tokens, q, k, n = eva_reference(backbone.tower.trunk, img, mode, 1.0)
    torch.testing.assert_close(content, as_map(tokens, n, n), atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(context['q'], as_map(q, n, n), atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(context['k'], as_map(k, n, n), atol=2e-5, rtol=1e-4)


def test_eva_rope_matches_timm_on_the_pretraining_grid(tiny_eva):
    from declip_mmseg.models.backbones.eva_vit import eva_rope
    arch, ckpt = tiny_eva
    trunk = build_clip(arch, ckpt).visual.trunk
    torch.testing.assert_close(eva_rope((4, 4), 16), trunk.rope.get_embed(), rtol=0, atol=1e-6)
    timm_b16 = open_clip.create_model('EVA02-B-16').visual.trunk
    torch.testing.assert_close(eva_rope((14, 14), 64), timm_b16.rope.get_embed(), rtol=0, atol=1e-6)


def test_eva_earlier_blocks_equal_timm(tiny_eva):
    """The blocks before the last run as timm runs them (positions, RoPE, fused attention)."""
    arch, ckpt = tiny_eva
    backbone = DeCLIPViT(arch, ckpt, attn_mode='qk', residual=True, ffn=True).eval()
    trunk = backbone.tower.trunk
    img = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ours = backbone.tower.tokens_before_last_block(img)
        x, rope = trunk._pos_embed(trunk.patch_embed(img))
        for blk in trunk.blocks[:-1]:
            x = blk(x, rope=rope)
    torch.testing.assert_close(ours, x, atol=1e-5, rtol=1e-5)


def test_non_square_eva_inputs(tiny_eva):
    arch, ckpt = tiny_eva
    backbone = DeCLIPViT(arch, ckpt, attn_mode='csa', attn_scale=1.0).eval()
    with torch.no_grad():
        content, context = backbone(torch.randn(1, 3, 40, 72))
    assert content.shape == (1, 32, 5, 9) and context['q'].shape == (1, 64, 5, 9)
