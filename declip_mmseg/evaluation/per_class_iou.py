"""IoUMetric that keeps its per-class IoU for reports (eval_all's second sheet)."""
from typing import Dict

from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    """mmseg's IoUMetric; after ``evaluate`` the rank that computed the
    metrics also holds ``per_class_iou``: ``{class name: IoU in %}``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.per_class_iou: Dict[str, float] = {}

    def total_area_to_metrics(self, *args, **kwargs):
        metrics = IoUMetric.total_area_to_metrics(*args, **kwargs)
        if 'IoU' in metrics:
            names = self.dataset_meta['classes']
            self.per_class_iou = {name: round(float(v) * 100, 2)
                                  for name, v in zip(names, metrics['IoU'])}
        return metrics
