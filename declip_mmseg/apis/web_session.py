"""What one click of the web page does, without the page (tools/web_demo.py; tested in-process).

:class:`WebSession` keeps the built models: one :class:`~.inference.OpenVocabInferencer` per
(method, weights), built on the first click that needs it and kept (the least recently used
goes when more than ``keep_models`` are built). A click sets the vocabulary (only new names
are encoded; the same names again touch neither the text tower nor the cache), applies the
advanced settings (:meth:`OpenVocabInferencer.configure`), segments the uploaded file with the
project's reader and writes the overlay, the label map and the heat maps as PNG files in a
fresh folder under ``out_dir``.
"""
import collections
import os
import os.path as osp
import re
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from PIL import Image

from ..fileio import safe_write
from ..visualization import heat_map
from .demo_methods import DemoMethod
from .inference import OpenVocabInferencer, progress_lines

MAX_HEAT_MAPS = 12


@dataclass
class Outcome:
    """The files and figures of one click.

    Attributes:
        overlay: PNG of the overlay with its legend.
        labels: indexed-PNG label map (class list in its ``classes`` text chunk).
        table: rows ``[index, class, % of pixels]`` of every class, largest first.
        heat_maps: ``(PNG path, caption)`` per class present (at most ``MAX_HEAT_MAPS``).
        status: one line: method, classes found, windows done, seconds.
        built: whether this click built the model.
        new_vocabulary: whether this click changed the vocabulary.
    """
    overlay: str
    labels: str
    table: List[list]
    heat_maps: List[Tuple[str, str]] = field(default_factory=list)
    status: str = ''
    built: bool = False
    new_vocabulary: bool = False


def page_classes(text: str) -> str:
    """The class box's text as a ``--classes`` vocabulary. Lines become ``;``-separated
    classes (a pasted class-name file); a server file is never read from the page."""
    text = (text or '').strip()
    if '\n' in text:
        text = '; '.join(line.strip() for line in text.splitlines() if line.strip())
    if text and ';' not in text and osp.exists(osp.expanduser(text)):
        raise FileNotFoundError(
            f'class names {text!r}: the page takes class names, not files; paste the names '
            "(';' between classes, ',' between synonyms) or the file's lines")
    return text


def safe_stem(path: str) -> str:
    stem = osp.splitext(osp.basename(path))[0]
    return re.sub(r'[^A-Za-z0-9_.-]+', '_', stem)[:60] or 'image'


class WebSession:
    """Models and outputs of a running page.

    Args:
        methods: ``{name: DemoMethod}`` (:func:`.demo_methods.demo_methods`).
        device: where models run.
        out_dir: where each click's files go (one sub-folder per click); None: a new folder
            in the system temp dir.
        keep_models: built models kept at once.
    """

    def __init__(self, methods: Dict[str, DemoMethod], device: str = 'cpu',
                 out_dir: Optional[str] = None, keep_models: int = 2):
        self.methods = methods
        self.device = device
        self.out_dir = out_dir or tempfile.mkdtemp(prefix='declip_web_')
        os.makedirs(self.out_dir, exist_ok=True)
        self.keep_models = max(1, int(keep_models))
        self.models: 'collections.OrderedDict[tuple, OpenVocabInferencer]' = \
            collections.OrderedDict()
        self.builds = 0

    def method(self, name: str) -> DemoMethod:
        if name not in self.methods:
            raise ValueError(f'unknown method {name!r}; the page offers {list(self.methods)}')
        return self.methods[name]

    def model(self, name: str, classes: str) -> Tuple[OpenVocabInferencer, bool]:
        """The built model of method ``name`` (built now if needed, with ``classes``);
        returns it and whether it was built."""
        method = self.method(name)
        missing = method.missing_weights()
        if missing:
            raise FileNotFoundError(missing)
        key = (name, method.weights_key())
        if key in self.models:
            self.models.move_to_end(key)
            return self.models[key], False
        while len(self.models) >= self.keep_models:
            self.models.popitem(last=False)
        inferencer = OpenVocabInferencer(method.config, classes=classes, device=self.device)
        inferencer.model.keep_network_probs = hasattr(inferencer.model, 'keep_network_probs')
        self.models[key] = inferencer
        self.builds += 1
        return inferencer, True

    def segment(self, image: str, classes: str, method: str, prob_thd: Optional[float] = None,
                logit_scale: Optional[float] = None, window: Optional[int] = None,
                stride: Optional[int] = None, pamr: Optional[bool] = None,
                cpu_bf16: Optional[bool] = None, opacity: float = 0.5,
                progress: Optional[Callable[[int, int], None]] = None,
                log: Optional[Callable[[str], None]] = None) -> Outcome:
        """One click: segment the file ``image`` with ``classes`` under ``method``'s model.

        Bad input raises the same errors (and messages) as tools/demo.py."""
        start = time.monotonic()
        if not image:
            raise FileNotFoundError('no image: upload one first')
        if not osp.isfile(image):
            raise FileNotFoundError(f'image {image!r} does not exist')
        if not 0.0 <= float(opacity) <= 1.0:
            raise ValueError(f'overlay opacity must be between 0 and 1, got {opacity}')
        classes = page_classes(classes)
        inferencer, built = self.model(method, classes)
        build_s = time.monotonic() - start
        before = inferencer.vocabulary
        inferencer.set_classes(classes)
        new_vocabulary = built or inferencer.vocabulary is not before
        text_s = time.monotonic() - start - build_s
        inferencer.configure(prob_thd=prob_thd, logit_scale=logit_scale, window=window,
                             stride=stride, pamr=pamr, cpu_bf16=cpu_bf16)
        windows = [0, 0]

        def report(done: int, total: int) -> None:
            windows[:] = [done, total]
            if progress is not None:
                progress(done, total)
            if log is not None:
                lines(done, total)
        lines = progress_lines(log) if log else None
        result = inferencer(image, progress=report)
        if windows[1] == 0:  # whole-image methods report no windows
            windows[:] = [1, 1]
        folder = tempfile.mkdtemp(prefix='click_', dir=self.out_dir)
        stem = safe_stem(image)
        overlay = inferencer.draw(result, osp.join(folder, f'{stem}_overlay.png'), float(opacity))
        labels = inferencer.write_labels(result, osp.join(folder, f'{stem}_labels.png'))
        counts = np.bincount(result.labels.ravel(), minlength=len(result.class_names))
        order = np.argsort(-counts, kind='stable')
        table = [[int(c), result.class_names[c], round(100.0 * counts[c] / result.labels.size, 2)]
                 for c in order]
        heat = self.heat_maps(result, [int(c) for c in order if counts[c] > 0], folder)
        seconds = time.monotonic() - start
        status = (f"{method}: found {', '.join(result.present())} "
                  f'(of {len(result.class_names)} classes); windows {windows[0]}/{windows[1]}; '
                  f'{seconds:.1f} s'
                  f" ({'model built' if built else 'model kept'} {build_s:.1f} s, "
                  f"{'new vocabulary' if new_vocabulary else 'same vocabulary'} {text_s:.1f} s)")
        return Outcome(overlay, labels, table, heat, status, built, new_vocabulary)

    @staticmethod
    def heat_maps(result, classes: List[int], folder: str) -> List[Tuple[str, str]]:
        """One PNG per class in ``classes`` (order kept, at most ``MAX_HEAT_MAPS``): its
        probability at the network's resolution, ``inferno`` colours."""
        if result.network_probs is None:
            return []
        out = []
        for c in classes[:MAX_HEAT_MAPS]:
            prob = result.network_probs[c]
            path = osp.join(folder, f'heat_{c:03d}.png')
            with safe_write(path) as tmp:
                Image.fromarray(heat_map(prob)).save(tmp, format='PNG')
            out.append((path, f'{result.class_names[c]} (max {prob.max():.2f})'))
        return out
