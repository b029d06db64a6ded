"""Convert any supported CLIP checkpoint to open_clip's format (tools/convert_checkpoint.py)."""
from typing import Optional

import torch

from ..clip import build_clip, load_weights
from ..fileio import check_output_file, safe_write

# torch.save writes PyTorch's zip format; a .safetensors name would lie about the content
OUTPUT_SUFFIXES = ('.pt', '.pth', '.bin')


def convert_checkpoint(src: str, dst: str, model_name: str, base: Optional[str] = None) -> str:
    """Load ``src`` strictly (over ``base`` when it holds only the image tower) and save the
    full model's state dict in open_clip format to ``dst``; returns the detected format.

    ``dst`` is checked before anything is loaded and written through :func:`safe_write`, so
    ``dst == src`` on a full disk leaves ``src`` as it was."""
    dst = check_output_file(dst, OUTPUT_SUFFIXES, flag='DST')
    model = build_clip(model_name, base)
    try:
        fmt = load_weights(model, src, over_base=bool(base))
    except RuntimeError as err:
        if 'only the image tower' in str(err):
            raise RuntimeError(f'{err} With this tool: --base BASE_CHECKPOINT.') from err
        raise
    with safe_write(dst) as tmp:
        torch.save({k: v.contiguous() for k, v in model.state_dict().items()}, tmp)
    return fmt
