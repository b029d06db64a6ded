"""Converters from the benchmarks' raw releases to the layouts the datasets read (run by the
scripts in the repository's ``datasets/`` folder)."""
from .ade20k_panoptic import convert_ade20k_panoptic
from .catseg import convert_ade20k_full, convert_pascal_context_459
from .coco_object import convert_coco_object

__all__ = ['convert_ade20k_full', 'convert_ade20k_panoptic', 'convert_coco_object',
           'convert_pascal_context_459']
