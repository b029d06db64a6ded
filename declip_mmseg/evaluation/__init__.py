"""Metrics: mIoU with per-class IoU for the spreadsheet, region-classification accuracy."""
from .metrics import PerClassIoUMetric, RegionClassificationMetric

__all__ = ['PerClassIoUMetric', 'RegionClassificationMetric']
