"""models/segmentors/dense_region_classifier.py: region pooling + scoring against direct computation."""
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

from declip_mmseg.models import classify_regions

NAMES = ['person', 'car', 'dog', 'banner', 'road', 'tree-merged']   # sorted by id


# -- pooling and scoring -------------------------------------------------------
def test_classify_regions_matches_direct_computation():
    torch.manual_seed(0)
    B, E, h, w, C = 2, 16, 7, 9, 5
    content = torch.randn(B, E, h, w)
    text = F.normalize(torch.randn(C, E), dim=-1)
    samples = []
    for n in (3, 0):  # an image without regions too
        xy = torch.rand(n, 2) * 0.6
        boxes = torch.cat([xy, xy + 0.1 + torch.rand(n, 2) * 0.3], 1)
        masks = torch.rand(n, h, w) > 0.6
        samples.append(dict(boxes=boxes, masks=masks, labels=torch.arange(n),
                            is_thing=torch.ones(n, dtype=torch.bool)))
    out = classify_regions(content, samples, text)
    assert [o['rois_logits'].shape for o in out] == [(3, C), (0, C)]
    for i, (o, s) in enumerate(zip(out, samples)):
        rois = s['boxes'] * torch.tensor([w, h, w, h])
        feats = roi_align(content[i:i + 1], [rois], (1, 1), 1.0, -1, True)[:, :, 0, 0]
        torch.testing.assert_close(o['rois_logits'], F.normalize(feats, dim=-1) @ text.T)
        pooled = torch.stack([content[i][:, m].mean(1) for m in s['masks']]) if len(s['masks']) \
            else torch.zeros(0, E)
        torch.testing.assert_close(o['maskpool_logits'], F.normalize(pooled, dim=-1) @ text.T)
        assert torch.equal(o['labels'], s['labels']) and torch.equal(o['is_thing'], s['is_thing'])
    # synonyms: queries (a, a', b) -> classes (a, b), max over a's queries
    out2 = classify_regions(content, samples, text[:3], torch.tensor([0, 0, 1]))
    direct = classify_regions(content, samples, text[:3])
    torch.testing.assert_close(out2[0]['rois_logits'], torch.stack(
        [direct[0]['rois_logits'][:, :2].amax(1), direct[0]['rois_logits'][:, 2]], 1))
    with pytest.raises(ValueError, match='feature-grid'):
        classify_regions(content, [dict(s, masks=torch.zeros(3, 4, 4, dtype=torch.bool))
                                   for s in samples[:1]] + samples[1:], text)


def test_model_config_errors(tiny_eva):
    from mmseg.registry import MODELS
    arch, ckpt = tiny_eva
    backbone = dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt, attn_mode='qq',
                    attn_scale=1.0)
    with pytest.raises(ValueError, match='class_names'):
        MODELS.build(dict(type='DenseRegionClassifier', backbone=backbone,
                          text_classifier=dict(type='ZeroShotTextClassifier')))
    model = MODELS.build(dict(type='DenseRegionClassifier', backbone=backbone, text_classifier=dict(
        type='ZeroShotTextClassifier', class_names=NAMES)))
    with pytest.raises(RuntimeError, match='only evaluates'):
        model(torch.zeros(1, 3, 32, 32), [], mode='loss')
    masks = torch.zeros(1, 4, 4, dtype=torch.bool)
    masks[0, 1:3, 1:3] = True
    sample = dict(boxes=torch.tensor([[0.2, 0.2, 0.7, 0.8]]), masks=masks,
                  labels=torch.tensor([2]), is_thing=torch.tensor([True]))
    out = model.test_step(dict(inputs=[torch.randn(3, 32, 32)], data_samples=[sample]))
    assert out[0]['rois_logits'].shape == (1, 6) and out[0]['maskpool_logits'].shape == (1, 6)
