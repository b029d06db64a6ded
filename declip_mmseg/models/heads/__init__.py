"""Heads: dense features -> class scores."""
from .catseg_aggregator import CATSegAggregator
from .catseg_text import CATSegTextEncoder
from .region_classifier import classify_regions, unbatch_samples
from .text_classifier import ZeroShotTextClassifier, pool_synonyms

__all__ = ['CATSegAggregator', 'CATSegTextEncoder', 'ZeroShotTextClassifier', 'classify_regions',
           'pool_synonyms', 'unbatch_samples']
