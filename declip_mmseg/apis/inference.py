"""Segment your own images with your own class names: the object behind tools/demo.py and the
web page.

    inferencer = OpenVocabInferencer('configs/demo.py', classes='cat; dog; grass')
    result = inferencer('photo.jpg')              # labels at the photo's size
    inferencer.set_classes('car; road; sky')     # no rebuild: only the new names are encoded
    inferencer.draw(result, 'overlay.png')

The model is built once (:meth:`OpenVocabInferencer.__init__`); a new vocabulary goes through
the text classifier's :meth:`~declip_mmseg.models.ZeroShotTextClassifier.set_vocabulary`
(embeddings cached on disk), and progress is reported through the segmentor's ``progress``
callback (windows done, windows in all).
"""
import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
from mmengine.config import Config
from mmseg.apis import inference_model
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules
from PIL import Image

from ..models.segmentors.sliding_window import window_boxes
from ..text import Vocabulary
from ..visualization import draw_overlay, read_rgb
from .config import load_config, set_checkpoint

Progress = Callable[[int, int], None]


@dataclass
class Segmentation:
    """One segmented image.

    Attributes:
        labels: (H, W) int64 class indices at the image's size.
        class_names: the vocabulary's class labels (first synonym of each class).
        image_path: the segmented file (None for an array).
        probs: (C, H, W) float32 class probabilities when the model keeps them
            (``model.keep_seg_logits=True``), else None.
    """
    labels: np.ndarray
    class_names: List[str]
    image_path: Optional[str] = None
    probs: Optional[np.ndarray] = None

    def areas(self) -> List[tuple]:
        """``(class name, % of pixels)`` of the classes present, largest first."""
        counts = np.bincount(self.labels.ravel(), minlength=len(self.class_names))
        order = [int(c) for c in np.argsort(-counts, kind='stable') if counts[c] > 0]
        return [(self.class_names[c], 100.0 * counts[c] / self.labels.size) for c in order]

    def present(self) -> List[str]:
        """Names of the classes present, in class order."""
        return [self.class_names[c] for c in np.unique(self.labels)]


class OpenVocabInferencer:
    """A segmentor built once from a config, for single images and changing vocabularies.

    Args:
        config: config file (or a loaded :class:`Config`); ``configs/demo.py`` is ClearCLIP
            on OpenAI ViT-B/16.
        classes: vocabulary (a class-name file, a list of lines or ``'cat; dog, puppy'``);
            None keeps the config's.
        checkpoint: CLIP weights (open_clip tag or file) replacing the config's.
        model_name: CLIP architecture (open_clip name or JSON file) replacing the config's;
            the text tower follows.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``...
        cfg_options: config overrides, as ``--cfg-options``.
    """

    def __init__(self, config: Union[str, Config], classes=None, checkpoint: Optional[str] = None,
                 model_name: Optional[str] = None, device: str = 'cpu',
                 cfg_options: Optional[dict] = None):
        register_all_modules(init_default_scope=True)
        cfg = load_config(config, cfg_options=cfg_options) if isinstance(config, str) \
            else config.copy()
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
        self.model = model.to(device).eval()
        self.cfg = cfg

    @property
    def vocabulary(self) -> Vocabulary:
        return self.model.text_classifier.vocabulary

    @property
    def class_names(self) -> List[str]:
        return list(self.vocabulary.class_labels)

    def set_classes(self, classes) -> Vocabulary:
        """Segment with other class names from now on; nothing but their text embeddings is
        computed (and those are read from the cache when known)."""
        return self.model.text_classifier.set_vocabulary(classes)

    def windows(self, height: int, width: int) -> int:
        """How many windows an image of this size (after the pipeline's resize) takes."""
        if hasattr(self.model, 'views'):  # CAT-Seg: fixed views, whatever the size
            return self.model.views(height, width)
        if self.model.inference_mode != 'slide':
            return 1
        return len(window_boxes(height, width, self.model.slide_crop, self.model.slide_stride))

    def __call__(self, image: Union[str, np.ndarray],
                 progress: Optional[Progress] = None) -> Segmentation:
        """Segment one image (a file path, or a BGR array as OpenCV reads it).

        ``progress(windows_done, windows_total)`` is called while the backbone runs."""
        self.model.progress = progress
        try:
            sample = inference_model(self.model, image)
        finally:
            self.model.progress = None
        probs = sample.get('seg_logits')
        return Segmentation(
            labels=sample.pred_sem_seg.data[0].cpu().numpy().astype(np.int64),
            class_names=self.class_names, image_path=image if isinstance(image, str) else None,
            probs=probs.data.float().cpu().numpy() if probs is not None else None)

    @staticmethod
    def overlay(result: Segmentation, alpha: float = 0.5) -> np.ndarray:
        """(H, W + legend, 3) uint8 RGB: the labels drawn over the image, with a legend."""
        rgb = read_rgb(result.image_path)
        if rgb.shape[:2] != result.labels.shape:
            rgb = np.asarray(Image.fromarray(rgb).resize(result.labels.shape[::-1],
                                                         Image.BILINEAR))
        return draw_overlay(rgb, result.labels, result.class_names, alpha)

    def draw(self, result: Segmentation, out_path: str, alpha: float = 0.5) -> str:
        """Write :meth:`overlay` as a PNG (or any format Pillow writes by the suffix)."""
        Image.fromarray(self.overlay(result, alpha)).save(out_path)
        return out_path


def progress_lines(log: Callable[[str], None], every: float = 2.0) -> Progress:
    """A ``progress`` callback writing ``windows done/total`` through ``log``: at most one line
    per ``every`` seconds, plus the last."""
    state = dict(last=0.0)

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if now - state['last'] >= every or done >= total:
            state['last'] = now
            log(f'  windows {min(done, total)}/{total}')
    return report


def segment_and_draw(inferencer: OpenVocabInferencer, image_path: str, out_path: str,
                     alpha: float = 0.5, log: Optional[Callable[[str], None]] = None
                     ) -> Sequence[str]:
    """Segment ``image_path``, write the overlay, return the names of the classes present
    (``log``, e.g. ``print``, receives progress lines)."""
    result = inferencer(image_path, progress=progress_lines(log) if log else None)
    if log:
        log(f'drawing the overlay and legend to {out_path}')
    inferencer.draw(result, out_path, alpha)
    return result.present()
