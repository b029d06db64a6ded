from .per_class_iou import PerClassIoUMetric
from .region_classification import RegionClassificationMetric

__all__ = ['PerClassIoUMetric', 'RegionClassificationMetric']
