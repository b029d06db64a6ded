"""Models by role, as mmseg groups them: ``backbones/`` (dense CLIP towers, attention rules,
VFMs), ``heads/`` (features -> class scores), ``losses/``, ``segmentors/``, ``distillers/``
(training methods), ``utils/``; :mod:`.builder` builds a backbone and its text tower from one
CLIP."""
from .backbones import DeCLIPViT, DenseCLIPViT, build_vfm
from .distillers import (
                         CLIPSelfDistiller,
                         DeCLIPDistiller,
                         DenseVLMDistiller,
                         DistillerBase,
                         RegionCLIPDistiller,
)
from .heads import ZeroShotTextClassifier, classify_regions
from .segmentors import CATSeg, DenseRegionClassifier, ZeroShotSegmentor

__all__ = ['CATSeg', 'CLIPSelfDistiller', 'DeCLIPDistiller', 'DeCLIPViT', 'DenseCLIPViT',
           'DenseRegionClassifier', 'DenseVLMDistiller', 'DistillerBase', 'RegionCLIPDistiller',
           'ZeroShotSegmentor', 'ZeroShotTextClassifier', 'build_vfm', 'classify_regions']
