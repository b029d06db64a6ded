"""ZeroShotSegmentor against a transcription of ClearCLIP's inference arithmetic."""

import pytest
import torch
import torch.nn.functional as F

import declip_mmseg  # noqa: F401
from declip_mmseg.models import ZeroShotSegmentor
from declip_mmseg.models.segmentors.sliding_window import centered_padding, window_boxes
from declip_mmseg.testing.segmentors import build_tiny_segmentor as build
from declip_mmseg.testing.segmentors import seg_data_sample as sample


def clearclip_reference(model, img, ori_shape, crop, stride, prob_thd, logit_scale):
    """ClearCLIP's forward_slide + forward_feature + postprocess_result, fp32."""
    text = model.text_classifier.query_embeddings
    patch = model.backbone.patch_size

    def forward_feature(x):
        content, _ = model.backbone(x)
        feats = content.flatten(2).transpose(1, 2)
        feats = feats / feats.norm(dim=-1, keepdim=True)
        logits = feats @ text.T
        h, w = x.shape[-2] // patch, x.shape[-1] // patch
        logits = logits.permute(0, 2, 1).reshape(-1, logits.shape[-1], h, w)
        return F.interpolate(logits, size=x.shape[-2:], mode='bilinear')

    _, _, h_img, w_img = img.shape
    h_grids = max(h_img - crop + stride - 1, 0) // stride + 1
    w_grids = max(w_img - crop + stride - 1, 0) // stride + 1
    preds = img.new_zeros((1, text.shape[0], h_img, w_img))
    count = img.new_zeros((1, 1, h_img, w_img))
    for hi in range(h_grids):
        for wi in range(w_grids):
            y1, x1 = hi * stride, wi * stride
            y2, x2 = min(y1 + crop, h_img), min(x1 + crop, w_img)
            y1, x1 = max(y2 - crop, 0), max(x2 - crop, 0)
            crop_img = img[:, :, y1:y2, x1:x2]
            H, W = crop_img.shape[2:]
            pad = centered_padding(H, W, patch)
            if any(pad):
                crop_img = F.pad(crop_img, pad)
            logit = forward_feature(crop_img)
            if any(pad):
                logit = logit[:, :, pad[2]:pad[2] + H, pad[0]:pad[0] + W]
            preds += F.pad(logit, (x1, preds.shape[3] - x2, y1, preds.shape[2] - y2))
            count[:, :, y1:y2, x1:x2] += 1
    logits = F.interpolate(preds / count, size=ori_shape, mode='bilinear')[0] * logit_scale
    probs = logits.softmax(0)
    idx = model.text_classifier.query_to_class
    one_hot = F.one_hot(idx).T.view(int(idx.max()) + 1, len(idx), 1, 1)
    probs = (probs.unsqueeze(0) * one_hot).max(1)[0]
    pred = probs.argmax(0, keepdim=True)
    pred[probs.max(0, keepdim=True)[0] < prob_thd] = 0
    return probs, pred




@pytest.mark.parametrize('size,ori,prob_thd', [((45, 71), (90, 142), 0.0),
                                               ((64, 48), (64, 48), 0.3),
                                               ((30, 100), (33, 111), 0.0)])
def test_matches_clearclip_arithmetic(tiny_clip, size, ori, prob_thd):
    model = build(tiny_clip, prob_thd=prob_thd)
    img = torch.randn(1, 3, *size)
    with torch.no_grad():
        out = model.predict(img, [sample(size, ori)])[0]
        probs, pred = clearclip_reference(model, img, ori, 36, 20, prob_thd, 50)
    assert out.seg_logits.data.shape == (4, *ori)
    torch.testing.assert_close(out.seg_logits.data, probs, atol=1e-5, rtol=1e-4)
    assert (out.pred_sem_seg.data == pred).float().mean() > 0.999


def test_window_batching_does_not_change_outputs(tiny_clip):
    img = torch.randn(1, 3, 70, 90)
    outs = []
    for wbs in (1, 4, 0):
        model = build(tiny_clip, window_batch_size=wbs)
        with torch.no_grad():
            outs.append(model._forward(img))
    for other in outs[1:]:
        torch.testing.assert_close(other, outs[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('size', [(40, 56), (27, 33), (5, 7)])
def test_slide_equals_whole_within_one_window(tiny_clip, size):
    """An image no larger than the window is one padded window: both modes agree."""
    slide = build(tiny_clip, slide_crop=64, slide_stride=32)
    whole = build(tiny_clip, inference_mode='whole')
    img = torch.randn(1, 3, *size)
    with torch.no_grad():
        a = slide.predict(img, [sample(size, size)])[0]
        b = whole.predict(img, [sample(size, size)])[0]
    torch.testing.assert_close(a.seg_logits.data, b.seg_logits.data, atol=1e-6, rtol=1e-5)
    assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)


def test_whole_mode_matches_clearclip_without_padding(tiny_clip):
    """ClearCLIP's whole-image rule: patch grid straight to the original size."""
    model = build(tiny_clip, inference_mode='whole')
    img = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        out = model.predict(img, [sample((48, 64), (96, 128))])[0]
        content, _ = model.backbone(img)
        logits = model.text_classifier(content)
        logits = F.interpolate(logits, size=(96, 128), mode='bilinear')[0]
    probs, _ = model.classify(logits)
    torch.testing.assert_close(out.seg_logits.data, probs)


def test_probability_threshold_and_synonym_pooling(tiny_clip):
    model = build(tiny_clip)
    logits = torch.randn(7, 5, 6)  # 7 queries: cat, kitty, dog, grass, lawn, turf, sky
    probs, labels = model.classify(logits)
    full = (logits * 50).softmax(0)
    torch.testing.assert_close(probs[0], full[:2].max(0)[0])
    torch.testing.assert_close(probs[2], full[3:6].max(0)[0])
    torch.testing.assert_close(probs[3], full[6])
    assert torch.equal(labels[0], probs.argmax(0))
    model.prob_thd = 0.99
    _, labels = model.classify(logits)
    low = probs.max(0)[0] < 0.99
    assert (labels[0][low] == 0).all() and torch.equal(labels[0][~low], probs.argmax(0)[~low])


def test_predict_without_data_samples(tiny_clip):
    model = build(tiny_clip)
    outs = model.predict(torch.randn(2, 3, 40, 50))
    assert len(outs) == 2 and outs[1].pred_sem_seg.data.shape == (1, 40, 50)


def test_batch_with_preprocessor_padding(tiny_clip):
    """img_shape smaller than the batch tensor: the padding is cut off first."""
    model = build(tiny_clip)
    img = torch.randn(1, 3, 50, 60)
    padded = F.pad(img, (0, 14, 0, 6))
    with torch.no_grad():
        a = model.predict(img, [sample((50, 60), (50, 60))])[0]
        b = model.predict(padded, [sample((50, 60), (50, 60))])[0]
    torch.testing.assert_close(a.seg_logits.data, b.seg_logits.data)


def test_loss_is_refused(tiny_clip):
    with pytest.raises(RuntimeError, match='training-free'):
        build(tiny_clip).loss(torch.randn(1, 3, 32, 32), [])


def test_bad_settings(tiny_clip):
    with pytest.raises(ValueError, match='inference_mode'):
        build(tiny_clip, inference_mode='tiles')
    with pytest.raises(ValueError, match='amp_dtype'):
        build(tiny_clip, amp_dtype='float8')


def test_window_geometry():
    assert window_boxes(10, 10, 32, 16) == [(0, 10, 0, 10)]
    boxes = window_boxes(448, 640, 224, 112)
    assert len(boxes) == 15 and boxes[-1] == (224, 448, 416, 640)
    assert centered_padding(45, 71, 8) == (0, 1, 1, 2)
    with pytest.raises(ValueError):
        window_boxes(10, 10, 0, 16)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_autocast_close_to_fp32(tiny_clip):
    model = build(tiny_clip)
    img = torch.randn(1, 3, 70, 90)
    with torch.no_grad():
        ref = model._forward(img)
        out = model.cuda()._forward(img.cuda()).float().cpu()
    torch.testing.assert_close(out, ref, atol=2e-2, rtol=2e-2)


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
