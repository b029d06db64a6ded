"""ProxyCLIP's proxy attention (models/backbones/proxy_attention.py) against the formula, on ViT and
EVA towers, with DINO, DINOv2 and SAM proxies."""
import math

import pytest
import torch
import torch.nn.functional as F

from declip_mmseg.clip import build_clip
from declip_mmseg.models import DeCLIPViT, ZeroShotSegmentor
from declip_mmseg.models.backbones.vfm import build_vfm
from declip_mmseg.testing.checkpoints import DINO_PATCHES, TINY, dino_v1_weights, save

# ------------------------------------------------------------------ ProxyCLIP

CLIP_MEAN_01 = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)


CLIP_STD_01 = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)


IN_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)


IN_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@pytest.fixture(scope='module')
def dino_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('dino')
    return {name: save(folder, f'{name}.pth', dino_v1_weights(patch, seed=3))
            for name, patch in DINO_PATCHES.items()}


def proxy_cfg(name, path, beta=1.2, gamma=3.0):
    return dict(vfm=name, weights=path, beta=beta, gamma=gamma,
                arch=dict(img_size=4 * DINO_PATCHES[name], **TINY))


def proxy_reference(visual, vfm, img, beta, gamma):
    """ProxyCLIP's custom_attn head by head, for one window at a time."""
    feats = vfm((img * CLIP_STD_01 + CLIP_MEAN_01 - IN_MEAN) / IN_STD)
    p = visual.patch_size[0]
    gh, gw = img.shape[-2] // p, img.shape[-1] // p
    x = visual._embeds(img) if (gh, gw) == (4, 4) else None
    for blk in visual.transformer.resblocks[:-1]:
        x = blk(x)
    blk = visual.transformer.resblocks[-1]
    D = x.shape[-1]
    heads, d = blk.attn.num_heads, D // blk.attn.num_heads
    W, b = blk.attn.in_proj_weight, blk.attn.in_proj_bias
    outs = []
    for n in range(img.shape[0]):
        f = feats[n].flatten(1)
        f = f / f.norm(dim=0, keepdim=True)
        sim = f.T @ f
        sim = (sim - sim.mean() * beta) * gamma
        sim[sim < 0] = float('-inf')
        attn = sim.softmax(dim=-1)
        v = blk.ln_1(x[n]) @ W[2 * D:].T + b[2 * D:]
        per_head = []
        for h in range(heads):
            vh = v[1:, h * d:(h + 1) * d].T.reshape(1, d, gh, gw)
            vh = F.interpolate(vh, size=feats.shape[-2:], mode='bilinear', align_corners=False)
            per_head.append(attn @ vh.reshape(d, -1).T)
        out = blk.attn.out_proj(torch.cat(per_head, dim=-1))
        outs.append(visual.ln_post(out) @ visual.proj)
    tokens = torch.stack(outs)
    return tokens.transpose(1, 2).reshape(img.shape[0], -1, *feats.shape[-2:])


@pytest.mark.parametrize('name', ['dino-B-8', 'dino-B-16'])
def test_proxy_attention_matches_formula(tiny_clip, dino_files, name):
    arch, ckpt = tiny_clip
    backbone = DeCLIPViT(arch, ckpt, attn_mode='proxy',
                         proxy=proxy_cfg(name, dino_files[name], beta=0.9, gamma=2.5)).eval()
    vfm = build_vfm(name, dino_files[name], img_size=4 * DINO_PATCHES[name], **TINY)
    visual = build_clip(arch, ckpt).visual.eval()
    torch.manual_seed(2)
    img = torch.randn(2, 3, 32, 32)  # two windows of one batch: one mean per window
    with torch.no_grad():
        content, context = backbone(img)
        expected = proxy_reference(visual, vfm, img, 0.9, 2.5)
    grid = 32 // DINO_PATCHES[name]
    assert content.shape == (2, 32, grid, grid) and context['q'].shape[-2:] == (4, 4)
    torch.testing.assert_close(content, expected, atol=1e-5, rtol=1e-4)
    assert backbone.pad_multiple == math.lcm(8, DINO_PATCHES[name])


def test_proxy_masks_below_the_offset():
    from declip_mmseg.models.backbones.proxy_attention import proxy_weights
    feats = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]).T.reshape(1, 2, 1, 3)
    w = proxy_weights(feats, beta=1.2, gamma=3.0)
    f = F.normalize(feats.flatten(2), dim=1)[0]
    s = f.T @ f
    s = (s - 1.2 * s.mean()) * 3.0
    assert (w[0][s < 0] == 0).all() and (w[0][s >= 0] > 0).all()
    torch.testing.assert_close(w[0].sum(-1), torch.ones(3))


def test_proxy_on_eva_tower(tiny_eva, dino_files):
    """EVA02 towers: values of norm1(x), inner norm, projection and gamma_1, no residual / FFN."""
    arch, ckpt = tiny_eva
    name = 'dino-B-8'
    backbone = DeCLIPViT(arch, ckpt, attn_mode='proxy', proxy=proxy_cfg(name, dino_files[name])).eval()
    torch.manual_seed(3)
    img = torch.randn(1, 3, 32, 40)
    tower = backbone.tower
    with torch.no_grad():
        content, _ = backbone(img)
        weights, grid = backbone.proxy(img)
        x = tower.tokens_before_last_block(img)
        blk = tower.trunk.blocks[-1]
        v = blk.attn.v_proj(blk.norm1(x))[0, 1:]  # (20, D)
        heads = tower.num_heads
        d = v.shape[-1] // heads
        outs = []
        for h in range(heads):
            vh = v[:, h * d:(h + 1) * d].T.reshape(1, d, 4, 5)
            vh = F.interpolate(vh, size=grid, mode='bilinear', align_corners=False)
            outs.append(weights[0] @ vh.reshape(d, -1).T)
        out = blk.attn.proj(blk.attn.norm(torch.cat(outs, -1)))
        if blk.gamma_1 is not None:
            out = blk.gamma_1 * out
        tokens = tower.head(out[None])[0]
    assert grid == (4, 5) and content.shape == (1, 32, 4, 5)
    torch.testing.assert_close(content[0], tokens.T.reshape(32, 4, 5), atol=1e-5, rtol=1e-4)


def test_proxy_config_errors(tiny_clip, dino_files):
    arch, ckpt = tiny_clip
    cfg = proxy_cfg('dino-B-8', dino_files['dino-B-8'])
    with pytest.raises(ValueError, match="attn_mode='proxy'"):
        DeCLIPViT(arch, ckpt, attn_mode='csa', proxy=cfg)
    with pytest.raises(ValueError, match='residual'):
        DeCLIPViT(arch, ckpt, attn_mode='proxy', residual=True, proxy=cfg)
    with pytest.raises(ValueError, match='backbone.proxy'):
        DeCLIPViT(arch, ckpt, attn_mode='proxy')
    with pytest.raises(ValueError, match='unknown keys'):
        DeCLIPViT(arch, ckpt, attn_mode='proxy', proxy=dict(cfg, sigma=2))


# ------------------------------------------------------------------ segmentor

def make_segmentor(tiny_clip, **kw):
    arch, ckpt = tiny_clip
    backbone = dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt,
                    attn_mode=kw.pop('attn_mode', 'naclip'))
    backbone.update(kw.pop('backbone', {}))
    text = dict(type='ZeroShotTextClassifier', class_names=['sky, cloud', 'tree', 'road'],
                templates=['a photo of a {}.'])
    return ZeroShotSegmentor(backbone, text, amp_dtype=None, **kw).eval()


def test_proxy_windows_are_padded_to_the_lcm(tiny_clip, dino_files):
    seg = make_segmentor(tiny_clip, attn_mode='proxy', backbone=dict(
        proxy=proxy_cfg('dino-B-16', dino_files['dino-B-16'])), slide_crop=24, slide_stride=16)
    torch.manual_seed(6)
    img = torch.randn(1, 3, 40, 40)
    with torch.no_grad():
        logits = seg.slide_logits(img)
        window = img[:, :, :24, :24]
        content, _ = seg.extract_feat(F.pad(window, (4, 4, 4, 4)))  # 24 -> 32 = 2 x lcm(8, 16)
        expected = F.interpolate(seg.text_classifier(content), size=(32, 32), mode='bilinear')
    assert content.shape[-2:] == (2, 2)
    torch.testing.assert_close(seg.query_logits(window), expected[:, :, 4:28, 4:28])
    assert logits.shape == (1, 4, 40, 40)


def test_proxy_with_dinov2_and_sam(tiny_clip, tmp_path):
    """DINOv2-B/14 (reg4 hub file): windows must be multiples of lcm(8, 14) = 56, content on the
    14-pixel grid; SAM: the window is resized to ``input_size`` (ProxyCLIP: 1024)."""
    from declip_mmseg.models.backbones.proxy_attention import proxy_mix, proxy_weights
    from declip_mmseg.testing.checkpoints import TINY_SAM, dinov2_hub_weights, full_sam_weights, sam_encoder
    arch, ckpt = tiny_clip
    path = save(tmp_path, 'dinov2.pth', dinov2_hub_weights())
    backbone = DeCLIPViT(arch, ckpt, attn_mode='proxy', proxy=dict(
        vfm='dinov2-B', weights=path, arch=dict(img_size=56, **TINY))).eval()
    assert backbone.pad_multiple == 56
    torch.manual_seed(7)
    img = torch.randn(1, 3, 56, 112)
    tower = backbone.tower
    with torch.no_grad():
        content, _ = backbone(img)
        vfm = build_vfm('dinov2-B', path, img_size=56, **TINY)
        feats = vfm((img * CLIP_STD_01 + CLIP_MEAN_01 - IN_MEAN) / IN_STD)
        x = tower.tokens_before_last_block(img)
        blk = tower.visual.transformer.resblocks[-1]
        D = x.shape[-1]
        v = F.linear(blk.ln_1(x), blk.attn.in_proj_weight[2 * D:], blk.attn.in_proj_bias[2 * D:])
        heads = blk.attn.num_heads
        vh = v[0].reshape(-1, heads, D // heads).transpose(0, 1)
        out = proxy_mix(vh, proxy_weights(feats, 1.2, 3.0), (7, 14), (4, 8))
        out = blk.attn.out_proj(out.transpose(0, 1).reshape(-1, D))
        expected = (tower.visual.ln_post(out) @ tower.visual.proj).T.reshape(1, -1, 4, 8)
    assert content.shape == (1, 32, 4, 8)
    torch.testing.assert_close(content, expected, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match='lcm'):
        backbone(torch.randn(1, 3, 48, 48))
    sam_path = save(tmp_path, 'sam.pth', full_sam_weights(sam_encoder()))
    sam = DeCLIPViT(arch, ckpt, attn_mode='proxy', proxy=dict(
        vfm='sam-B', weights=sam_path, input_size=64, arch=TINY_SAM)).eval()
    assert sam.proxy.input_size == 64 and sam.pad_multiple == 16
    with torch.no_grad():
        content, _ = sam(torch.randn(2, 3, 32, 48))
    assert content.shape == (2, 32, 4, 4)  # SAM's grid of the resized 64 x 64 input
