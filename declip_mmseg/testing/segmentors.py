"""A tiny ZeroShotSegmentor on the tiny CLIP, and a data sample for it."""
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import declip_mmseg  # noqa: F401

SEGMENTOR_NAMES = ['cat; kitty', 'dog', 'grass; lawn; turf', 'sky']


def build_tiny_segmentor(tiny_clip, **kw):
    arch, ckpt = tiny_clip
    cfg = dict(type='ZeroShotSegmentor',
               backbone=dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt, attn_mode='qq'),
               text_classifier=dict(type='ZeroShotTextClassifier', class_names=SEGMENTOR_NAMES,
                                    templates='openai_imagenet_7'),
               logit_scale=50, slide_crop=36, slide_stride=20, keep_seg_logits=True)
    cfg.update(kw)
    return MODELS.build(cfg).eval()



def seg_data_sample(shape, ori_shape):
    return SegDataSample(metainfo=dict(img_shape=shape, ori_shape=ori_shape))
