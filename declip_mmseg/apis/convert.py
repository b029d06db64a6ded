"""Convert any supported CLIP checkpoint to open_clip's format (tools/convert_checkpoint.py)."""
from typing import Optional

import torch

from ..models.checkpoint_formats import to_open_clip
from ..models.clip_loader import build_clip, load_checkpoint_file


def convert_checkpoint(src: str, dst: str, model_name: str, base: Optional[str] = None) -> str:
    """Load ``src`` strictly (over ``base`` when it holds only the image tower) and save the
    full model's state dict in open_clip format to ``dst``; returns the detected format."""
    if base:
        model = build_clip(model_name, base, checkpoint=src)
    else:
        try:
            model = build_clip(model_name, src)
        except RuntimeError as err:
            if 'only the image tower' in str(err):
                raise RuntimeError(f'{err} With this tool: --base BASE_CHECKPOINT.') from err
            raise
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    torch.save(state, dst)
    return detect_format(src, model)


def detect_format(path: str, model) -> str:
    return to_open_clip(load_checkpoint_file(path), model)[1]
