"""Segmentors and what their predictions are made of: windows, patch fitting, post-processing,
bounded-memory labelling."""
from . import patch_fit, postprocess  # noqa: F401  (register the patch-fit rules and steps)
from .catseg import CATSeg
from .dense_region_classifier import DenseRegionClassifier
from .zero_shot_segmentor import ZeroShotSegmentor

__all__ = ['CATSeg', 'DenseRegionClassifier', 'ZeroShotSegmentor']
