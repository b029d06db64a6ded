from .per_class_iou import PerClassIoUMetric

__all__ = ['PerClassIoUMetric']
from .region_classification import RegionClassificationMetric  # noqa: E402

__all__ += ['RegionClassificationMetric']
