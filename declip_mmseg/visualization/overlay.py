"""Drawings for tools/demo.py and the web page: a reproducible palette, the overlay of a label
map on its image with a legend of the classes present (and their area), the image to draw on."""
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from ..datasets.transforms import loading
from .fonts import legend_fonts


def palette(n: int, seed: int = 7) -> np.ndarray:
    """``n`` distinct, reproducible RGB colours, (n, 3) uint8."""
    rng = np.random.default_rng(seed)
    hues = (np.arange(n) * 0.618033988749895 + rng.random()) % 1.0
    colours = []
    for h in hues:
        i, f = int(h * 6), h * 6 - int(h * 6)
        v, s = 0.95, 0.75
        p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
        colours.append([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i % 6])
    return (np.array(colours) * 255).astype(np.uint8)


def draw_overlay(image_rgb: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                 alpha: float = 0.5) -> np.ndarray:
    """Colour each pixel by its class and add a legend of the classes present.

    Args:
        image_rgb: (H, W, 3) uint8.
        labels: (H, W) integer class indices.
    Returns:
        (H, W + legend width, 3) uint8.
    """
    colours = palette(len(class_names))
    blended = (image_rgb * (1 - alpha) + colours[labels] * alpha).astype(np.uint8)
    present = sorted((int(c) for c in np.unique(labels)), key=lambda c: -(labels == c).sum())
    area = {c: float((labels == c).mean()) * 100 for c in present}
    fonts = legend_fonts([class_names[c] for c in present])
    entries = [(font, f'{text} {area[c]:.1f}%') for c, (font, text) in zip(present, fonts)]
    measure = ImageDraw.Draw(Image.new('RGB', (1, 1)))
    row = 18
    width = 12 + max(int(measure.textlength(text, font=font)) for font, text in entries) + 24
    height = max(image_rgb.shape[0], row * len(present) + 8)
    canvas = Image.new('RGB', (image_rgb.shape[1] + width, height), (255, 255, 255))
    canvas.paste(Image.fromarray(blended), (0, 0))
    draw = ImageDraw.Draw(canvas)
    x0 = image_rgb.shape[1] + 8
    for i, (c, (font, text)) in enumerate(zip(present, entries)):
        y = 6 + i * row
        draw.rectangle([x0, y, x0 + 14, y + 12], fill=tuple(int(v) for v in colours[c]))
        draw.text((x0 + 20, y - 1), text, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


def read_rgb(image_path: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file as the model sees it: the test pipeline's
    decoding (OpenCV, else Pillow's first frame; 16-bit grey scaled, not clipped to white)."""
    try:
        return loading.read_rgb(image_path)
    except OSError as err:
        raise RuntimeError(f'cannot read image {image_path!r}: {err}') from err
