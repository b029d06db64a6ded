"""Pillow-side image geometry of the distillation and region datasets (DeCLIP's / CLIPSelf's
transforms): resize the long side, pad, normalise."""
from typing import Tuple

import numpy as np
import torch
from PIL import Image


def resize_longest(height: int, width: int, max_size: int):
    """Scale and rounded (h, w) when the long side becomes ``max_size`` (DeCLIP's ResizeLongest)."""
    scale = max_size / float(max(height, width))
    return scale, round(height * scale), round(width * scale)


def to_tensor(image: Image.Image, mean, std) -> torch.Tensor:
    """PIL RGB -> normalized (3, H, W) float tensor."""
    arr = torch.from_numpy(np.asarray(image.convert('RGB'), dtype=np.float32) / 255.0)
    arr = arr.permute(2, 0, 1)
    return (arr - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def resize_longest_padded(image: Image.Image, size: int) -> Tuple[Image.Image, float]:
    """Long side to ``size`` (bicubic), pasted top-left on a black size x size canvas."""
    w, h = image.size
    scale = size / max(w, h)
    resized = image.resize((round(w * scale), round(h * scale)), Image.BICUBIC)
    canvas = Image.new('RGB', (size, size))
    canvas.paste(resized, (0, 0))
    return canvas, scale


def resize_max_centered(image: Image.Image, size: int) -> Image.Image:
    """Long side to ``size`` (bicubic), centered on a black size x size canvas."""
    w, h = image.size
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    canvas = Image.new('RGB', (size, size))
    canvas.paste(image.resize((nw, nh), Image.BICUBIC), ((size - nw) // 2, (size - nh) // 2))
    return canvas
