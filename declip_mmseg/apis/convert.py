"""Convert any supported CLIP checkpoint to open_clip's format (tools/convert_checkpoint.py)."""
from typing import Optional

import torch

from ..clip import build_clip, load_weights


def convert_checkpoint(src: str, dst: str, model_name: str, base: Optional[str] = None) -> str:
    """Load ``src`` strictly (over ``base`` when it holds only the image tower) and save the
    full model's state dict in open_clip format to ``dst``; returns the detected format."""
    model = build_clip(model_name, base)
    try:
        fmt = load_weights(model, src, over_base=bool(base))
    except RuntimeError as err:
        if 'only the image tower' in str(err):
            raise RuntimeError(f'{err} With this tool: --base BASE_CHECKPOINT.') from err
        raise
    torch.save({k: v.contiguous() for k, v in model.state_dict().items()}, dst)
    return fmt
