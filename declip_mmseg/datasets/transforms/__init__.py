"""Data transforms: image / label loading for any format and size (mmseg pipeline steps), and
the Pillow geometry of the distillation and region datasets."""
from .loading import LoadAnnotationsKeepShape, LoadImageWithPillowFallback, read_image, read_pil_rgb, read_rgb

__all__ = ['LoadAnnotationsKeepShape', 'LoadImageWithPillowFallback', 'read_image', 'read_pil_rgb',
           'read_rgb']
