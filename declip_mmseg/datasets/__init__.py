"""Datasets (benchmarks beyond mmseg's own, distillation images, panoptic regions), their
transforms and the converters of raw releases."""
from .coco_object import COCO_THINGS, COCOObjectDataset
from .coco_panoptic_regions import (
                                    COCO_PANOPTIC_CLASSES,
                                    ADE20KPanopticRegionDataset,
                                    COCOPanopticRegionDataset,
)
from .grid_distill import GridDistillDataset
from .region_clip import RegionCLIPDataset
from .transforms import LoadAnnotationsKeepShape, LoadImageWithPillowFallback
from .voc20 import PascalVOC20Dataset

__all__ = ['ADE20KPanopticRegionDataset', 'COCOObjectDataset', 'COCOPanopticRegionDataset',
           'GridDistillDataset', 'LoadAnnotationsKeepShape', 'LoadImageWithPillowFallback',
           'PascalVOC20Dataset', 'RegionCLIPDataset', 'COCO_PANOPTIC_CLASSES', 'COCO_THINGS']
