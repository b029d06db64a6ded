from . import eva_vit, openclip_vit  # noqa: F401  (register the towers)
from .declip_vit import DeCLIPViT
from .tower_registry import TOWERS, register_tower, wrap_visual_tower

__all__ = ['DeCLIPViT', 'TOWERS', 'register_tower', 'wrap_visual_tower']
