"""One CLIP build for a dense backbone and its text tower.

A model names its CLIP weights once, in its backbone config; a text classifier takes the same
weight settings (:func:`declip_mmseg.clip.weight_source`) unless it names its own. The CLIP is
then built once: its image tower goes to the backbone, its text tower to the classifier's
:class:`~declip_mmseg.text.TextEncoder` (run only when an embedding is not cached).
"""
from typing import Optional, Tuple

import torch.nn as nn
from mmseg.registry import MODELS

from ..clip import WEIGHT_KEYS, build_clip, weight_source
from ..text import TextEncoder
from .backbones import DenseCLIPViT


def build_dense_backbone(backbone: dict) -> Tuple[nn.Module, Optional[nn.Module]]:
    """``(backbone, text_clip)``: a :class:`DenseCLIPViT` config is built on a CLIP made here,
    whose text tower is returned as ``text_clip`` (the open_clip model without its image
    tower); any other backbone is built as configured, with ``text_clip`` None."""
    backbone = dict(backbone)
    net_cls = MODELS.get(backbone.get('type', '')) if isinstance(backbone.get('type'), str) else None
    source = weight_source(backbone)
    if not (net_cls and issubclass(net_cls, DenseCLIPViT) and 'model_name' in source):
        return MODELS.build(backbone), None
    clip = build_clip(**source)
    return MODELS.build(backbone, default_args=dict(clip=clip)), clip


def build_text_classifier(text_classifier: dict, backbone: dict,
                          text_clip: Optional[nn.Module] = None) -> nn.Module:
    """A text classifier whose weight settings default to ``backbone``'s (not when it reads
    fixed embeddings from a file); ``text_clip`` (from :func:`build_dense_backbone`) is its text
    tower when the weights are the same."""
    cfg = dict(text_classifier)
    if cfg.get('embeddings_file') is not None:
        return MODELS.build(cfg)
    source = weight_source(backbone)
    for key, value in source.items():
        cfg.setdefault(key, value)
    if text_clip is not None and all(cfg.get(k) == source.get(k) for k in WEIGHT_KEYS):
        cfg.setdefault('text_encoder', TextEncoder(
            **weight_source(cfg), clip=text_clip, cache_dir=cfg.get('cache_dir'),
            device=cfg.get('encode_device')))
    return MODELS.build(cfg)


def build_backbone_and_text(backbone: dict, text_classifier: dict) -> Tuple[nn.Module, nn.Module]:
    """``(backbone, text classifier)`` from their configs, on one CLIP build."""
    net, text_clip = build_dense_backbone(backbone)
    return net, build_text_classifier(text_classifier, backbone, text_clip)
