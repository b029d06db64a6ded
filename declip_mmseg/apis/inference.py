"""Segment your own images with your own class names (the logic behind tools/demo.py)."""
from typing import List, Optional, Sequence, Union

import numpy as np
from mmengine.config import Config
from mmseg.apis import inference_model
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules
from PIL import Image, ImageDraw, ImageFont

import declip_mmseg  # noqa: F401  (registers the modules)

from ..datasets.loading import read_with_pillow
from .test import set_checkpoint


def init_segmentor(config: Union[str, Config], classes=None, checkpoint: Optional[str] = None,
                   device: str = 'cpu', cfg_options: Optional[dict] = None):
    """Build a :class:`ZeroShotSegmentor` from a config for single images.

    Args:
        classes: vocabulary (file, list of lines or ``'cat; dog'``); None
            keeps the config's.
        checkpoint: CLIP weights (tag or file) replacing the backbone's.
    """
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(config) if isinstance(config, str) else config.copy()
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if classes is not None:
        cfg.model.text_classifier.class_names = classes
    if checkpoint is not None:
        set_checkpoint(cfg, checkpoint)
    if cfg.get('test_pipeline') is None:
        cfg.test_pipeline = cfg.test_dataloader.dataset.pipeline
    model = MODELS.build(cfg.model)
    model.cfg = cfg
    return model.to(device).eval()


def segment(model, image: Union[str, np.ndarray]):
    """One image (path, or BGR array) -> SegDataSample with ``pred_sem_seg`` / ``seg_logits``."""
    return inference_model(model, image)


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
    present = [int(c) for c in np.unique(labels)]
    area = {c: float((labels == c).mean()) * 100 for c in present}
    font = ImageFont.load_default()
    row = 18
    width = 12 + max(len(f'{class_names[c]} {area[c]:.1f}%') for c in present) * 7 + 24
    height = max(image_rgb.shape[0], row * len(present) + 8)
    canvas = Image.new('RGB', (image_rgb.shape[1] + width, height), (255, 255, 255))
    canvas.paste(Image.fromarray(blended), (0, 0))
    draw = ImageDraw.Draw(canvas)
    x0 = image_rgb.shape[1] + 8
    for i, c in enumerate(sorted(present, key=lambda c: -area[c])):
        y = 6 + i * row
        draw.rectangle([x0, y, x0 + 14, y + 12], fill=tuple(int(v) for v in colours[c]))
        draw.text((x0 + 20, y), f'{class_names[c]} {area[c]:.1f}%', fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


def segment_and_draw(model, image_path: str, out_path: str, alpha: float = 0.5) -> List[str]:
    """Segment ``image_path``, write the overlay PNG, return the class labels present."""
    result = segment(model, image_path)
    labels = result.pred_sem_seg.data[0].cpu().numpy()
    with open(image_path, 'rb') as f:  # as the pipeline read it: EXIF-rotated, first frame
        rgb = read_with_pillow(f.read(), image_path)[..., ::-1]
    names = model.text_classifier.vocabulary.class_labels
    Image.fromarray(draw_overlay(rgb, labels, names, alpha)).save(out_path)
    return [names[c] for c in np.unique(labels)]

