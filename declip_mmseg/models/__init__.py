from .backbones import DeCLIPViT
from .clip_loader import build_clip
from .decoupled_attention import ATTN_MODES, register_attn_mode
from .distiller import DeCLIPDistiller
from .segmentors import ZeroShotSegmentor
from .text_classifier import ZeroShotTextClassifier

__all__ = ['DeCLIPDistiller', 'DeCLIPViT', 'ZeroShotSegmentor', 'ZeroShotTextClassifier', 'build_clip',
           'ATTN_MODES', 'register_attn_mode']
from .region_classifier import DenseRegionClassifier, classify_regions  # noqa: E402

__all__ += ['DenseRegionClassifier', 'classify_regions']
