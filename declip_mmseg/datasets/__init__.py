from .coco_object import COCO_THINGS, COCOObjectDataset
from .coco_panoptic_regions import (COCO_PANOPTIC_CLASSES, ADE20KPanopticRegionDataset,
                                    COCOPanopticRegionDataset)
from .region_clip import RegionCLIPDataset
from .grid_distill import GridDistillDataset
from .voc20 import PascalVOC20Dataset

__all__ = ['ADE20KPanopticRegionDataset', 'COCOObjectDataset', 'COCOPanopticRegionDataset',
           'GridDistillDataset', 'RegionCLIPDataset',
           'PascalVOC20Dataset', 'COCO_PANOPTIC_CLASSES', 'COCO_THINGS']
