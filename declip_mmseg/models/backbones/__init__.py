"""Image towers: the dense CLIP backbone with its last-block attention rules and towers, and the
frozen vision foundation models (VFMs) used as teachers and as ProxyCLIP's proxies."""
from . import eva_vit, openclip_vit  # noqa: F401  (register the towers)
from .decoupled_attention import check_attn_mode, decoupled_attention, gaussian_bias
from .dense_clip_vit import DenseCLIPViT, wrap_visual_tower
from .proxy_attention import ProxyGuide
from .vfm import VisionFoundationModel, build_vfm

DeCLIPViT = DenseCLIPViT  # the backbone's first name (configs write type='DeCLIPViT')

__all__ = ['DeCLIPViT', 'DenseCLIPViT', 'ProxyGuide', 'VisionFoundationModel', 'build_vfm',
           'check_attn_mode', 'decoupled_attention', 'gaussian_bias', 'wrap_visual_tower']
