from .coco_object import COCO_THINGS, COCOObjectDataset
from .coco_panoptic_regions import COCO_PANOPTIC_CLASSES, COCOPanopticRegionDataset
from .grid_distill import GridDistillDataset
from .loading import LoadAnnotationsKeepShape, LoadImageWithPillowFallback
from .voc20 import PascalVOC20Dataset

__all__ = ['COCOObjectDataset', 'COCOPanopticRegionDataset', 'GridDistillDataset',
           'LoadAnnotationsKeepShape', 'LoadImageWithPillowFallback', 'PascalVOC20Dataset',
           'COCO_PANOPTIC_CLASSES', 'COCO_THINGS']
