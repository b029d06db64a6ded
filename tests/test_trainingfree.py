"""Training-free baselines: NACLIP's bias, PAMR, SCLIP's area_thd, ProxyCLIP's proxy attention,
and the segmentor's post-processing order, each against a direct re-computation."""
import math

import pytest
import torch
import torch.nn.functional as F
from test_backbone import naclip_bias, softmax
from test_vfm import DINO_PATCHES, TINY, dino_v1_weights, save

from declip_mmseg.models import DeCLIPViT, ZeroShotSegmentor
from declip_mmseg.clip import build_clip
from declip_mmseg.models.backbones.decoupled_attention import ATTN_MODES, gaussian_bias
from declip_mmseg.models.segmentors.postprocess import PAMR, AreaThreshold, build_postprocess
from declip_mmseg.models.backbones.vfm import build_vfm


# ------------------------------------------------------------------ NACLIP

def naclip_conv_bias(gh, gw, sigma):
    """NACLIP's own construction: one-hot maps convolved ('same') with a (2h-1)x(2w-1) window."""
    c = 1 / (sigma * math.sqrt(2))
    ks = [torch.linspace(-(n - 1) * c, (n - 1) * c, 2 * n - 1) for n in (gh, gw)]
    window = torch.exp(-(torch.stack(torch.meshgrid(*ks, indexing='ij')) ** 2).sum(0))
    eye = torch.einsum('ij,kl->ijkl', torch.eye(gh), torch.eye(gw)).permute(0, 3, 1, 2)
    out = F.conv2d(eye.reshape(-1, gh, gw)[:, None], window[None, None], padding='same')
    out = out.reshape(gh * gw, gh * gw)
    full = torch.zeros(1 + gh * gw, 1 + gh * gw)
    full[1:, 1:] = out
    return full


@pytest.mark.parametrize('grid', [(3, 5), (4, 4), (21, 31)])
def test_naclip_bias_matches_naclip_construction(grid):
    torch.testing.assert_close(gaussian_bias(grid), naclip_conv_bias(*grid, 5.0), atol=1e-5, rtol=0)
    if grid == (3, 5):
        torch.testing.assert_close(gaussian_bias(grid), naclip_bias(*grid), atol=1e-6, rtol=0)


def test_naclip_rule_head_by_head_on_a_non_square_grid():
    torch.manual_seed(0)
    grid, heads, d = (3, 5), 3, 8
    q, k, v = (torch.randn(heads, 16, d) for _ in range(3))
    weights = ATTN_MODES['naclip'](q, k, v, 0.35, grid)
    for h in range(heads):
        expected = softmax(k[h] @ k[h].T * 0.35 + naclip_bias(*grid))  # bias not scaled, q unused
        torch.testing.assert_close(weights[h], expected, atol=1e-6, rtol=1e-5)


# ------------------------------------------------------------------ PAMR

def pamr_direct(image, logits, num_iter, dilations):
    """PAMR written pixel by pixel from the definition (trainingfree.md section 3)."""
    _, C, H, W = logits.shape
    img = image[0].double()
    m = logits[0].double()

    def at(t, y, x):  # replicate padding
        return t[:, min(max(y, 0), H - 1), min(max(x, 0), W - 1)]

    ring = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    weights = torch.zeros(H, W, 8 * len(dilations), dtype=torch.float64)
    offsets = [(dy * d, dx * d) for d in dilations for dy, dx in ring]
    for y in range(H):
        for x in range(W):
            samples = torch.stack([at(img, y + dy * d, x + dx * d) for d in dilations
                                   for dy in (-1, 0, 1) for dx in (-1, 0, 1)], dim=1)
            std = samples.std(dim=1)  # unbiased, per colour channel
            aff = torch.stack([(-(img[:, y, x] - at(img, y + oy, x + ox)).abs()
                                / (1e-8 + 0.1 * std)).mean() for oy, ox in offsets])
            weights[y, x] = aff.softmax(0)
    for _ in range(num_iter):
        new = torch.zeros_like(m)
        for y in range(H):
            for x in range(W):
                new[:, y, x] = sum(weights[y, x, i] * at(m, y + oy, x + ox)
                                   for i, (oy, ox) in enumerate(offsets))
        m = new
    return m[None].float()


def test_pamr_matches_direct_computation_and_chunks_change_nothing():
    torch.manual_seed(0)
    image = torch.randn(1, 3, 9, 11)
    logits = torch.randn(1, 5, 9, 11)
    full = PAMR(num_iter=3, dilations=(1, 2))(logits, image)
    torch.testing.assert_close(full, pamr_direct(image, logits, 3, (1, 2)), atol=1e-5, rtol=1e-4)
    step = PAMR(num_iter=3, dilations=(1, 2), max_chunk_elements=16 * 9 * 11 * 2)
    assert step.chunk_size((9, 11)) == 2  # 5 queries in chunks of 2, 2, 1
    torch.testing.assert_close(step(logits, image), full, atol=0, rtol=0)


def test_pamr_resizes_the_image_to_the_logits():
    torch.manual_seed(1)
    image = torch.randn(1, 3, 18, 22)
    logits = torch.randn(1, 2, 9, 11)
    small = F.interpolate(image, size=(9, 11), mode='bilinear', align_corners=False)
    step = PAMR(num_iter=2, dilations=(1,))
    torch.testing.assert_close(step(logits, image), step(logits, small))


def test_pamr_bad_settings():
    with pytest.raises(ValueError, match='num_iter'):
        PAMR(num_iter=0)
    with pytest.raises(ValueError, match='unknown postprocess step'):
        build_postprocess([dict(type='CRF')])


# ------------------------------------------------------------------ area_thd

def test_area_threshold_constructed_case():
    """Class 1 covers 2 of 20 foreground pixels (10 %, not above 10 %): dropped everywhere;
    class 2 (18 pixels) kept; background never touched."""
    probs = torch.zeros(3, 5, 5)
    probs[0] = 0.5  # background wins the first five pixels
    probs[2, 1:] = 0.9
    probs[1, 1, :2] = 0.95  # class 1 wins 2 pixels
    probs[1, 2, 0] = 0.6  # and loses elsewhere
    out = AreaThreshold(0.1)(probs)
    assert torch.equal(out[1], torch.zeros(5, 5))
    assert torch.equal(out[0], probs[0]) and torch.equal(out[2], probs[2])
    # above the threshold the class stays
    assert torch.equal(AreaThreshold(0.099)(probs), probs)


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


def test_pamr_runs_on_raw_logits_before_the_softmax(tiny_clip):
    seg = make_segmentor(tiny_clip, inference_mode='whole', patch_fit='floor', logit_scale=40.0,
                         postprocess=[dict(type='PAMR', num_iter=2, dilations=(1, 2))],
                         keep_seg_logits=True)
    torch.manual_seed(4)
    img = torch.randn(1, 3, 30, 44)
    meta = dict(img_shape=(30, 44), ori_shape=(15, 22))
    from mmseg.structures import SegDataSample
    out = seg.predict(img, [SegDataSample(metainfo=meta)])[0]
    raw = seg.encode_decode(img, [meta])
    refined = PAMR(num_iter=2, dilations=(1, 2))(raw, img)
    probs = seg.text_classifier.pool_synonyms((refined[0] * 40.0).softmax(0))
    torch.testing.assert_close(out.seg_logits.data, probs)
    assert not torch.allclose(refined, raw)
    # the bounded-memory path (default: one query at a time here) gives the same labels
    seg.keep_seg_logits, seg.postprocess_memory_mb = False, 0
    chunked = seg.predict(img, [SegDataSample(metainfo=meta)])[0]
    assert torch.equal(chunked.pred_sem_seg.data, out.pred_sem_seg.data)


def test_area_thd_in_bounded_memory_equals_the_full_path(tiny_clip):
    seg = make_segmentor(tiny_clip, attn_mode='csa', logit_scale=65.0, prob_thd=0.1,
                         postprocess=[dict(type='AreaThreshold', area_thd=0.4)],
                         slide_crop=24, slide_stride=16, keep_seg_logits=True)
    from mmseg.structures import SegDataSample
    meta = dict(img_shape=(40, 56), ori_shape=(50, 70))
    dropped = 0
    for seed in range(4):
        torch.manual_seed(seed)
        img = torch.randn(1, 3, 40, 56)
        seg.keep_seg_logits, seg.postprocess_memory_mb = True, 512
        full = seg.predict(img, [SegDataSample(metainfo=meta)])[0]
        seg.keep_seg_logits, seg.postprocess_memory_mb = False, 0
        chunked = seg.predict(img, [SegDataSample(metainfo=meta)])[0]
        assert torch.equal(chunked.pred_sem_seg.data, full.pred_sem_seg.data)
        dropped += int((full.seg_logits.data.flatten(1).max(1).values == 0).sum())
    assert dropped > 0  # the threshold did remove classes in these cases


def test_patch_fit_floor_and_corner(tiny_clip):
    torch.manual_seed(5)
    img = torch.randn(1, 3, 30, 44)  # not multiples of the patch size 8
    floor = make_segmentor(tiny_clip, patch_fit='floor')
    with torch.no_grad():
        content, _ = floor.extract_feat(img[:, :, :24, :40])
        expected = F.interpolate(floor.text_classifier(content), size=(30, 44), mode='bilinear')
        torch.testing.assert_close(floor.query_logits(img), expected)
        corner = make_segmentor(tiny_clip, patch_fit='corner')
        content, _ = corner.extract_feat(F.pad(img, (0, 4, 0, 2)))
        expected = F.interpolate(corner.text_classifier(content), size=(30, 44), mode='bilinear')
        torch.testing.assert_close(corner.query_logits(img), expected)
    with pytest.raises(ValueError, match='patch_fit'):
        make_segmentor(tiny_clip, patch_fit='crop')


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


def test_duplicate_name_ties_go_to_the_first_class(tiny_clip):
    """SCLIP / NACLIP / ProxyCLIP COCO-Object: 'bed' is a background synonym and a class; the
    two queries tie exactly and the argmax takes the background, as in those repos."""
    arch, ckpt = tiny_clip
    text = dict(type='ZeroShotTextClassifier', class_names=['sky, bed', 'bed', 'tree'],
                templates=['a photo of a {}.'], allow_duplicate_names=True)
    seg = ZeroShotSegmentor(dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt), text,
                            amp_dtype=None).eval()
    logits = torch.zeros(4, 2, 3)
    logits[1] = logits[2] = 1.0  # both 'bed' queries (same embedding) win everywhere
    probs, labels = seg.classify(logits)
    assert torch.equal(probs[0], probs[1]) and (labels == 0).all()
    with pytest.raises(ValueError, match='duplicate'):
        ZeroShotSegmentor(dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt),
                          dict(text, allow_duplicate_names=False), amp_dtype=None)


def test_proxy_with_dinov2_and_sam(tiny_clip, tmp_path):
    """DINOv2-B/14 (reg4 hub file): windows must be multiples of lcm(8, 14) = 56, content on the
    14-pixel grid; SAM: the window is resized to ``input_size`` (ProxyCLIP: 1024)."""
    from declip_mmseg.models.backbones.proxy_attention import proxy_mix, proxy_weights
    from test_vfm import TINY_SAM, dinov2_hub_weights, full_sam_weights, sam_encoder
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
