"""Small pieces shared by models: region pooling, CPU autocast advice."""
from .cpu_amp import cpu_amp_is_fast, cpu_features, warn_if_slow_cpu_amp
from .region_pooling import denormalize_boxes, mask_pool, roi_pool

__all__ = ['cpu_amp_is_fast', 'cpu_features', 'denormalize_boxes', 'mask_pool', 'roi_pool',
           'warn_if_slow_cpu_amp']
