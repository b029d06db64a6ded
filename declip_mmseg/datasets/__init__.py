from .coco_object import COCO_THINGS, COCOObjectDataset
from .voc20 import PascalVOC20Dataset

__all__ = ['COCOObjectDataset', 'PascalVOC20Dataset', 'COCO_THINGS']
