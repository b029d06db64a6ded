from .zero_shot_segmentor import CLIP_MEAN, CLIP_STD, ZeroShotSegmentor

__all__ = ['ZeroShotSegmentor', 'CLIP_MEAN', 'CLIP_STD']
