"""models/heads/region_classifier.py: the token-normalized region classifier (DenseVLM)."""
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align


def test_token_normalized_region_classifier(tiny_eva):
    """rois: RoIAlign of the unit-norm token map; maskpool: mean of unit-norm tokens."""
    from mmseg.registry import MODELS
    arch, ckpt = tiny_eva
    model = MODELS.build(dict(
        type='DenseRegionClassifier', normalize_tokens=True,
        backbone=dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt, attn_mode='identity',
                      residual=True, ffn=True),
        text_classifier=dict(type='ZeroShotTextClassifier', class_names=['a', 'b', 'c'],
                             templates='photo')))
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    boxes = torch.tensor([[0.1, 0.2, 0.6, 0.5], [0.0, 0.0, 1.0, 1.0]])
    masks = torch.zeros(2, 8, 8, dtype=torch.bool)
    masks[0, 2:5, 1:4] = True
    masks[1, :, 4:] = True
    out = model([x[0]], [dict(boxes=boxes, masks=masks)])[0]
    with torch.no_grad():
        f = F.normalize(model.backbone(x)[0], dim=1)
    text = F.normalize(model.text_classifier.query_embeddings, dim=-1)
    rois = roi_align(f, [boxes * 8], (1, 1), 1.0, -1, True)[..., 0, 0]
    torch.testing.assert_close(out['rois_logits'], F.normalize(rois, dim=-1) @ text.T)
    pooled = torch.stack([f[0][:, m].mean(1) for m in masks])
    torch.testing.assert_close(out['maskpool_logits'], F.normalize(pooled, dim=-1) @ text.T,
                               atol=1e-5, rtol=1e-5)
