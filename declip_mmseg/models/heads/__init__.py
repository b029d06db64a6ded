"""Heads: dense features -> class scores."""
from .region_classifier import classify_regions, unbatch_samples
from .text_classifier import ZeroShotTextClassifier, pool_synonyms

__all__ = ['ZeroShotTextClassifier', 'classify_regions', 'pool_synonyms', 'unbatch_samples']
