"""Segment your own images with your own class names (the logic behind tools/demo.py)."""
import contextlib
import time
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
from mmengine.config import Config
from mmseg.apis import inference_model
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules
from PIL import Image, ImageDraw

import declip_mmseg  # noqa: F401  (registers the modules)

from ..datasets.loading import read_image
from ..models.segmentors.sliding_window import window_boxes
from .fonts import legend_fonts
from .test import set_checkpoint


def init_segmentor(config: Union[str, Config], classes=None, checkpoint: Optional[str] = None,
                   device: str = 'cpu', cfg_options: Optional[dict] = None,
                   model_name: Optional[str] = None):
    """Build a :class:`ZeroShotSegmentor` from a config for single images.

    Args:
        classes: vocabulary (file, list of lines or ``'cat; dog'``); None
            keeps the config's.
        checkpoint: CLIP weights (tag or file) replacing the backbone's.
        model_name: CLIP architecture (open_clip name or JSON file) replacing the
            backbone's; the text tower follows.
    """
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(config) if isinstance(config, str) else config.copy()
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if classes is not None:
        cfg.model.text_classifier.class_names = classes
    if checkpoint is not None:
        set_checkpoint(cfg, checkpoint)
    if model_name is not None:
        cfg.model.backbone.model_name = model_name
        cfg.model.text_classifier.pop('model_name', None)
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
        with open(image_path, 'rb') as f:
            data = f.read()
        return np.ascontiguousarray(read_image(data, image_path)[:, :, ::-1])
    except OSError as err:
        raise RuntimeError(f'cannot read image {image_path!r}: {err}') from err


def segment_and_draw(model, image_path: str, out_path: str, alpha: float = 0.5,
                     log: Optional[Callable[[str], None]] = None) -> List[str]:
    """Segment ``image_path``, write the overlay PNG, return the class labels present.

    ``log`` (e.g. ``print``) receives progress lines: the windows done while segmenting.
    """
    with window_progress(model, log):
        result = segment(model, image_path)
    labels = result.pred_sem_seg.data[0].cpu().numpy()
    rgb = read_rgb(image_path)
    if rgb.shape[:2] != labels.shape:
        rgb = np.asarray(Image.fromarray(rgb).resize(labels.shape[::-1], Image.BILINEAR))
    names = model.text_classifier.vocabulary.class_labels
    if log:
        log(f'drawing the overlay and legend to {out_path}')
    Image.fromarray(draw_overlay(rgb, labels, names, alpha)).save(out_path)
    return [names[c] for c in np.unique(labels)]


@contextlib.contextmanager
def window_progress(model, log: Optional[Callable[[str], None]], every: float = 2.0):
    """Report, through ``log``, how many windows of the image the backbone has done
    (at most one line per ``every`` seconds, plus the last)."""
    if log is None:
        yield
        return
    state = dict(done=0, total=None, last=0.0)

    def before_slide(img):
        H, W = img.shape[-2:]
        state.update(done=0, total=len(window_boxes(H, W, model.slide_crop, model.slide_stride)))
        log(f'segmenting a {W} x {H} image (after resizing) in {state["total"]} windows of '
            f'{model.slide_crop} px')

    def hook(module, args, output):
        state['done'] += args[0].shape[0]
        now = time.monotonic()
        if state['total'] and (now - state['last'] >= every or state['done'] >= state['total']):
            state['last'] = now
            log(f'  windows {min(state["done"], state["total"])}/{state["total"]}')

    original = model.slide_logits

    def slide_logits(img, *args, **kwargs):
        before_slide(img)
        return original(img, *args, **kwargs)

    model.slide_logits = slide_logits
    handle = model.backbone.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
        del model.slide_logits

