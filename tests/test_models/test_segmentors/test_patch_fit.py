"""models/segmentors/patch_fit.py: floor, pad and corner fitting of the input to the patch grid."""
import pytest
import torch
import torch.nn.functional as F

from declip_mmseg.models import ZeroShotSegmentor

# ------------------------------------------------------------------ segmentor

def make_segmentor(tiny_clip, **kw):
    arch, ckpt = tiny_clip
    backbone = dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt,
                    attn_mode=kw.pop('attn_mode', 'naclip'))
    backbone.update(kw.pop('backbone', {}))
    text = dict(type='ZeroShotTextClassifier', class_names=['sky, cloud', 'tree', 'road'],
                templates=['a photo of a {}.'])
    return ZeroShotSegmentor(backbone, text, amp_dtype=None, **kw).eval()


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
