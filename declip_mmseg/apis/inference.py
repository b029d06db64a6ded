"""Segment your own images with your own class names: the object behind tools/demo.py and the
web page.

    inferencer = OpenVocabInferencer('configs/demo.py', classes='cat; dog; grass')
    result = inferencer('photo.jpg')              # labels at the photo's size
    inferencer.set_classes('car; road; sky')     # no rebuild: only the new names are encoded
    inferencer.draw(result, 'overlay.png')
    inferencer.write_labels(result, 'labels.png')  # indexed PNG, class list inside
    inferencer.configure(prob_thd=0.3, pamr=True)  # per-image settings; None: the config's

The model is built once (:meth:`OpenVocabInferencer.__init__`); a new vocabulary goes through
the text classifier's :meth:`~declip_mmseg.models.ZeroShotTextClassifier.set_vocabulary`
(embeddings cached on disk), and progress is reported through the segmentor's ``progress``
callback (windows done, windows in all).
"""
import time
import warnings
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmseg.apis import inference_model
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules
from PIL import Image

from ..clip import WeightsUnavailableError
from ..fileio import check_output_file, safe_write
from ..models.segmentors.postprocess import build_postprocess
from ..models.segmentors.sliding_window import window_boxes
from ..text import ClassNameError, ClassNameWarning, Vocabulary
from ..visualization import draw_overlay, read_rgb, write_label_map
from .checks import check_config_values, check_value, check_window
from .config import load_config, set_checkpoint

OVERLAY_SUFFIXES = ('.png', '.jpg', '.jpeg', '.webp', '.bmp', '.tif', '.tiff')

Progress = Callable[[int, int], None]
# Mistakes in what a user gave (class names, image, weights, settings, memory): tools/demo.py
# prints them as 'error: ...', the web page shows the same text.
USER_ERRORS = (ClassNameError, WeightsUnavailableError, OSError, MemoryError, ValueError)
# PAMR as NACLIP runs it (configs/_base_/models/naclip_vit_b16.py), for ``configure(pamr=True)``
PAMR_STEP = dict(type='PAMR', num_iter=10, dilations=(8, 16))


@dataclass
class Segmentation:
    """One segmented image.

    Attributes:
        labels: (H, W) int64 class indices at the image's size.
        class_names: the vocabulary's class labels (first synonym of each class).
        image_path: the segmented file (None for an array).
        probs: (C, H, W) float32 class probabilities when the model keeps them
            (``model.keep_seg_logits=True``), else None.
        network_probs: (C, h, w) float32 class probabilities at the network's resolution
            (``model.keep_network_probs=True``: the web page's heat maps), else None.
    """
    labels: np.ndarray
    class_names: List[str]
    image_path: Optional[str] = None
    probs: Optional[np.ndarray] = None
    network_probs: Optional[np.ndarray] = None

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
        if isinstance(config, str):
            cfg = load_config(config, cfg_options=cfg_options)
        else:
            cfg = config.copy()
            check_config_values(cfg)
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
        warn_one_class_with_synonyms(self.vocabulary)
        self._defaults = {key: getattr(model, key) for key in self.SETTINGS if hasattr(model, key)}
        self._postprocess = getattr(model, 'postprocess', None)

    # model attributes that configure() sets per image (and restores with None)
    SETTINGS = ('prob_thd', 'logit_scale', 'slide_crop', 'slide_stride', 'cpu_amp_dtype')

    @property
    def vocabulary(self) -> Vocabulary:
        return self.model.text_classifier.vocabulary

    @property
    def class_names(self) -> List[str]:
        return list(self.vocabulary.class_labels)

    def set_classes(self, classes) -> Vocabulary:
        """Segment with other class names from now on; nothing but their text embeddings is
        computed (and those are read from the cache when known). The same vocabulary again
        changes nothing and does not touch the text tower or the cache."""
        head = self.model.text_classifier
        vocabulary = head.parse_vocabulary(classes)  # each head's own rules (CAT-Seg's too)
        if vocabulary.classes == self.vocabulary.classes:
            return self.vocabulary
        warn_one_class_with_synonyms(vocabulary)
        return head.set_vocabulary(vocabulary)

    def defaults(self) -> dict:
        """The config's values of the per-image settings (see :meth:`configure`)."""
        out = dict(self._defaults)
        out['pamr'] = self._postprocess is not None and any(
            type(step).__name__ == 'PAMR' for step in self._postprocess)
        return out

    def configure(self, prob_thd: Optional[float] = None, logit_scale: Optional[float] = None,
                  window: Optional[int] = None, stride: Optional[int] = None,
                  pamr: Optional[bool] = None, cpu_bf16: Optional[bool] = None) -> None:
        """Settings for the next images; None restores the config's value. Nothing is rebuilt.

        Args:
            prob_thd: background threshold in [0, 1] (pixels whose best class probability
                is lower become class 0).
            logit_scale: factor on the cosine logits before the softmax (> 0).
            window, stride: sliding-window size and step in pixels (slide mode only).
            pamr: PAMR refinement on (NACLIP's settings, :data:`PAMR_STEP`) or off.
            cpu_bf16: bf16 autocast on the CPU (fast only on CPUs with bf16 instructions).
        """
        model = self.model
        values = dict(prob_thd=prob_thd, logit_scale=logit_scale, slide_crop=window,
                      slide_stride=stride)
        for key, value in values.items():
            if key in self._defaults:
                setattr(model, key, type(self._defaults[key])(value) if value is not None
                        else self._defaults[key])
        # the same value rules as the configs and the command lines (apis/checks.py)
        check_value('prob_thd', model.prob_thd, 'fraction')
        check_value('logit scale', model.logit_scale, 'positive')
        if 'slide_crop' in self._defaults:
            check_value('window', model.slide_crop, 'count')
            check_value('stride', model.slide_stride, 'count')
            check_window(model.slide_crop, model.slide_stride, 'window', 'stride')
        if 'cpu_amp_dtype' in self._defaults:
            model.cpu_amp_dtype = (self._defaults['cpu_amp_dtype'] if cpu_bf16 is None
                                   else torch.bfloat16 if cpu_bf16 else None)
        if self._postprocess is not None:
            kept = [step for step in self._postprocess if type(step).__name__ != 'PAMR']
            if pamr is None:
                model.postprocess = self._postprocess
            elif pamr:
                has = len(kept) < len(self._postprocess)
                model.postprocess = self._postprocess if has else torch.nn.ModuleList(
                    list(build_postprocess([PAMR_STEP])) + kept).to(self.device)
            else:
                model.postprocess = torch.nn.ModuleList(kept)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

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
        probs, network = sample.get('seg_logits'), sample.get('network_probs')
        return Segmentation(
            labels=sample.pred_sem_seg.data[0].cpu().numpy().astype(np.int64),
            class_names=self.class_names, image_path=image if isinstance(image, str) else None,
            probs=probs.data.float().cpu().numpy() if probs is not None else None,
            network_probs=network.data.float().cpu().numpy() if network is not None else None)

    @staticmethod
    def overlay(result: Segmentation, alpha: float = 0.5) -> np.ndarray:
        """(H, W + legend, 3) uint8 RGB: the labels drawn over the image, with a legend."""
        rgb = read_rgb(result.image_path)
        if rgb.shape[:2] != result.labels.shape:
            rgb = np.asarray(Image.fromarray(rgb).resize(result.labels.shape[::-1],
                                                         Image.BILINEAR))
        return draw_overlay(rgb, result.labels, result.class_names, alpha)

    def draw(self, result: Segmentation, out_path: str, alpha: float = 0.5) -> str:
        """Write :meth:`overlay` as a PNG (or any format Pillow writes by the suffix), complete
        or not at all (:func:`safe_write`)."""
        overlay = Image.fromarray(self.overlay(result, alpha))
        with safe_write(out_path) as tmp:
            overlay.save(tmp)  # the temporary name keeps the suffix, so the format
        return out_path

    @staticmethod
    def write_labels(result: Segmentation, out_path: str) -> str:
        """Write the label map as an indexed PNG with its class list
        (:func:`declip_mmseg.visualization.write_label_map`)."""
        return write_label_map(out_path, result.labels, result.class_names)


def check_overlay_path(out_path: str, flag: str = '--out', suffixes=OVERLAY_SUFFIXES) -> str:
    """Before segmenting: ``out_path`` is a file name Pillow can write (by its suffix) in a
    folder that accepts files (:func:`check_output_file`); label maps are PNG only."""
    return check_output_file(out_path, suffixes, flag)


def warn_one_class_with_synonyms(vocabulary: Vocabulary) -> None:
    """One class with several names is most often classes written with ``,``: say that ``;``
    separates classes (the demo and the web page both build through the inferencer)."""
    if vocabulary.num_classes == 1 and len(vocabulary.classes[0]) > 1:
        names = vocabulary.classes[0]
        warnings.warn(
            f"the vocabulary is ONE class with {len(names)} synonyms ({', '.join(names)}), so "
            "every pixel gets that class. ';' separates classes, ',' separates synonyms of one "
            f"class: write {'; '.join(names)!r} for {len(names)} classes.", ClassNameWarning,
            stacklevel=3)


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
                     alpha: float = 0.5, log: Optional[Callable[[str], None]] = None,
                     labels_path: Optional[str] = None) -> Sequence[str]:
    """Segment ``image_path``, write the overlay (and the label map to ``labels_path``),
    return the names of the classes present (``log``, e.g. ``print``, receives progress
    lines)."""
    result = inferencer(image_path, progress=progress_lines(log) if log else None)
    if log:
        log(f'drawing the overlay and legend to {out_path}')
    inferencer.draw(result, out_path, alpha)
    if labels_path:
        inferencer.write_labels(result, labels_path)
        if log:
            log(f'wrote the label map to {labels_path} (indexed PNG, class list in its '
                f"'classes' text chunk)")
    return result.present()
