from .backbones import DeCLIPViT
from .clip_loader import build_clip
from .decoupled_attention import ATTN_MODES, register_attn_mode
from .distillers import (CLIPSelfDistiller, DeCLIPDistiller, DenseVLMDistiller, DistillerBase,
                         RegionCLIPDistiller)
from .region_classifier import DenseRegionClassifier, classify_regions
from .segmentors import ZeroShotSegmentor
from .text_classifier import ZeroShotTextClassifier
from .vfm import VFM_BUILDERS, build_vfm

__all__ = ['CLIPSelfDistiller', 'DeCLIPDistiller', 'DenseVLMDistiller', 'DistillerBase',
           'RegionCLIPDistiller', 'DeCLIPViT', 'DenseRegionClassifier', 'ZeroShotSegmentor',
           'ZeroShotTextClassifier', 'build_clip', 'build_vfm', 'classify_regions',
           'ATTN_MODES', 'VFM_BUILDERS', 'register_attn_mode']
