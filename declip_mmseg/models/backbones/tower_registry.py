"""Registry mapping a visual-tower class to the wrapper that runs it densely."""
from typing import Dict, Type

import torch.nn as nn

TOWERS: Dict[Type[nn.Module], Type[nn.Module]] = {}


def register_tower(visual_cls: Type[nn.Module]):
    """Class decorator: ``@register_tower(open_clip.transformer.VisionTransformer)``."""
    def wrap(tower_cls):
        TOWERS[visual_cls] = tower_cls
        return tower_cls
    return wrap


def wrap_visual_tower(visual: nn.Module) -> nn.Module:
    for visual_cls, tower_cls in TOWERS.items():
        if isinstance(visual, visual_cls):
            return tower_cls(visual)
    raise TypeError(
        f'No dense wrapper for visual tower {type(visual).__name__}; supported: '
        f'{[c.__name__ for c in TOWERS]}')
