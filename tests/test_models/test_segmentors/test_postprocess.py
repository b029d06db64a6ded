"""models/segmentors/postprocess.py: PAMR and the area threshold against direct computations."""
import pytest
import torch
import torch.nn.functional as F

from declip_mmseg.models import ZeroShotSegmentor
from declip_mmseg.models.segmentors.postprocess import PAMR, AreaThreshold, build_postprocess

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
