from .backbones import DeCLIPViT
from .clip_loader import build_clip
from .decoupled_attention import ATTN_MODES, register_attn_mode
from .segmentors import ZeroShotSegmentor
from .text_classifier import ZeroShotTextClassifier

__all__ = ['DeCLIPViT', 'ZeroShotSegmentor', 'ZeroShotTextClassifier', 'build_clip',
           'ATTN_MODES', 'register_attn_mode']
