from .coco_object import COCO_THINGS, COCOObjectDataset
from .grid_distill import GridDistillDataset
from .voc20 import PascalVOC20Dataset

__all__ = ['GridDistillDataset', 'COCOObjectDataset', 'PascalVOC20Dataset', 'COCO_THINGS']
from .coco_panoptic_regions import COCO_PANOPTIC_CLASSES, COCOPanopticRegionDataset  # noqa: E402

__all__ += ['COCOPanopticRegionDataset', 'COCO_PANOPTIC_CLASSES']
