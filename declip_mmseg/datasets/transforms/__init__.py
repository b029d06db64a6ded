"""Data transforms: image / label loading for any format and size (mmseg pipeline steps), and
the Pillow geometry of the distillation and region datasets."""
from .loading import LoadAnnotationsKeepShape, LoadImageWithPillowFallback, read_image

__all__ = ['LoadAnnotationsKeepShape', 'LoadImageWithPillowFallback', 'read_image']
