"""Label maps as files (tools/demo.py ``--out-labels``, the web page's download) and per-class
heat maps.

A label map is an indexed PNG: pixel value = class index in vocabulary order, the palette is the
overlay's (:func:`.overlay.palette`), so an image viewer shows the same colours, and the class
list rides along in the PNG's text chunk ``classes`` (a JSON list, index order). More than 256
classes do not fit a palette: those maps are 16-bit grey PNGs with the same text chunk. The
bytes depend only on the labels and the class names, so the page's download and the command
line's file can be compared byte for byte.
"""
import json
from typing import List, Sequence, Tuple

import numpy as np
from PIL import Image, PngImagePlugin

from ..fileio import safe_write
from .overlay import palette

CLASSES_KEY = 'classes'


def label_map_image(labels: np.ndarray, class_names: Sequence[str]) -> Tuple[Image.Image, dict]:
    """(H, W) integer labels -> (PIL image, PNG save options): mode ``P`` with the overlay's
    palette for up to 256 classes, else ``I;16``."""
    n = len(class_names)
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        raise ValueError(f'label map holds values outside 0..{n - 1} (vocabulary of {n} classes)')
    info = PngImagePlugin.PngInfo()
    info.add_text(CLASSES_KEY, json.dumps(list(class_names), ensure_ascii=False))
    if n <= 256:
        image = Image.fromarray(labels.astype(np.uint8), mode='P')
        image.putpalette(palette(n).reshape(-1).tolist())
    else:
        image = Image.fromarray(labels.astype(np.uint16), mode='I;16')
    return image, dict(format='PNG', pnginfo=info, optimize=False, compress_level=6)


def write_label_map(path: str, labels: np.ndarray, class_names: Sequence[str]) -> str:
    """Write the label map PNG through :func:`declip_mmseg.fileio.safe_write`; returns ``path``."""
    image, options = label_map_image(labels, class_names)
    with safe_write(path) as tmp:
        image.save(tmp, **options)
    return path


def read_label_map(path: str) -> Tuple[np.ndarray, List[str]]:
    """(H, W) int64 labels and the class list of a file written by :func:`write_label_map`."""
    with Image.open(path) as image:
        names = image.text.get(CLASSES_KEY) if hasattr(image, 'text') else None
        if names is None:
            raise ValueError(f'{path!r} has no {CLASSES_KEY!r} text chunk: it was not written '
                             'by tools/demo.py --out-labels or the web page')
        return np.asarray(image).astype(np.int64), json.loads(names)


def heat_map(prob: np.ndarray) -> np.ndarray:
    """(h, w) probabilities in [0, 1] -> (h, w, 3) uint8 RGB (matplotlib's ``inferno``)."""
    from matplotlib import colormaps
    rgba = colormaps['inferno'](np.clip(prob, 0.0, 1.0))
    return (rgba[..., :3] * 255).round().astype(np.uint8)
