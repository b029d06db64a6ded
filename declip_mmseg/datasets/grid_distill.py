"""Images for the distillation stages: student view, grid boxes, crops, VFM view (no labels).

Per image, as the ``GridDistillDataset`` of DeCLIP (and of CLIPSelf / DenseVLM):

* student view: long side resized to ``image_size`` (bicubic, ratio kept), zero padded on
  the right and bottom to ``image_size`` squared, CLIP normalization;
* an m x n grid drawn uniformly from a choice set (``grid_style``, see
  :data:`declip_mmseg.registry.GRID_STYLES`);
  at most ``max_boxes`` cells, a random subset; boxes as xyxy normalized to the padded
  student view (so they cover the real image only), flagged valid in column 5;
* (``with_crops``) every cell cropped from the original image, long side resized to ``crop_size``, centered
  zero padding, CLIP normalization (the teacher's input);
* (``with_vfm_view``) VFM view: long side resized to ``(image_size // student_patch) * vfm_patch`` (so both
  patch grids match: 560 / 16 * 14 = 490 for DINOv2), right / bottom padding, ImageNet
  normalization.

Unreadable or tiny images are skipped with a warning (another image is drawn instead).
"""
import json
import logging
import os
import os.path as osp
import random
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from mmseg.registry import DATASETS
from PIL import Image
from torch.utils.data import Dataset

from ..clip.constants import CLIP_MEAN_01, CLIP_STD_01, IMAGENET_MEAN_01, IMAGENET_STD_01
from ..registry import GRID_STYLES, register_grid_style
from .transforms.loading import read_pil_rgb
from .transforms.pil import resize_longest_padded, resize_max_centered, to_tensor

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


@register_grid_style('declip')
def _declip_choices(max_split: int) -> List[Tuple[int, int]]:
    """DeCLIP: rows m in 1..M, columns n in (m+1)//2 .. min(2m, M); 24 pairs for M = 6."""
    return [(m, n) for m in range(1, max_split + 1)
            for n in range((m + 1) // 2, min(2 * m + 1, max_split + 1))]


@register_grid_style('densevlm')
def _densevlm_choices(max_split: int) -> List[Tuple[int, int]]:
    """CLIPSelf / DenseVLM: rows m in 2..M, columns n in (m+1)//2 + 1 .. min(2m, M);
    17 pairs for M = 6, 4 to 36 cells."""
    return [(m, n) for m in range(2, max_split + 1)
            for n in range((m + 1) // 2 + 1, min(2 * m + 1, max_split + 1))]


def grid_choices(max_split: int, style: str = 'declip') -> List[Tuple[int, int]]:
    """The (rows, columns) layouts a grid is drawn from (:data:`declip_mmseg.registry.GRID_STYLES`)."""
    if style not in GRID_STYLES:
        raise ValueError(f'unknown grid_style {style!r}; known: {sorted(GRID_STYLES)}')
    return GRID_STYLES[style](max_split)


def grid_boxes(rows: int, cols: int) -> np.ndarray:
    """Cells of a rows x cols grid, row-major, xyxy in [0, 1]: (rows*cols, 4)."""
    xs, ys = np.linspace(0, 1, cols + 1), np.linspace(0, 1, rows + 1)
    return np.array([[xs[c], ys[r], xs[c + 1], ys[r + 1]]
                     for r in range(rows) for c in range(cols)], dtype=np.float64)


def list_images(img_dir: str, ann_file: Optional[str] = None) -> List[str]:
    """Image paths from a COCO ``instances_*.json`` (only ``images[].file_name`` is read)
    or, without one, every image file below ``img_dir``, symlinked folders and files included
    (each real folder read once)."""
    if ann_file:
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'annotation file {ann_file!r} does not exist (it lists the '
                                    'images, e.g. annotations/instances_train2017.json)')
        with open(ann_file) as f:
            try:
                images = json.load(f)['images']
            except (ValueError, KeyError) as err:
                raise RuntimeError(f'{ann_file!r} is not a COCO annotation file with an '
                                   f'"images" list: {err}') from err
        return [osp.join(img_dir, item['file_name']) for item in images]
    if not osp.isdir(img_dir):
        raise FileNotFoundError(f'image folder {img_dir!r} does not exist')
    found, seen = [], set()
    for root, dirs, names in os.walk(img_dir, followlinks=True):  # symlinked folders count
        real = osp.realpath(root)
        if real in seen:  # a link back up the tree (or two links to one folder): once only
            dirs[:] = []
            continue
        seen.add(real)
        found += [osp.join(root, name) for name in names if name.lower().endswith(IMAGE_SUFFIXES)]
    return sorted(found)


@DATASETS.register_module()
class GridDistillDataset(Dataset):
    """COCO train images (or any image folder) prepared for DeCLIP distillation.

    Args:
        img_dir: image folder (relative to ``data_root``).
        ann_file: COCO ``instances_*.json`` listing the images; None scans ``img_dir``.
        image_size: student input size (square, padded), 560 by default (1024 in the paper).
        crop_size: teacher input size (224 for B/16, 336 for L/14-336).
        student_patch, vfm_patch: patch sizes fixing the VFM view's size.
        max_split, max_boxes: grid choice set and number of boxes kept.
        min_size: images whose shorter side is smaller are skipped.
        grid_style: 'declip' or 'densevlm' (also CLIPSelf's), see :func:`grid_choices`.
        with_crops: also return the cells cropped from the image (the crop teacher's input;
            DenseVLM does not use them).
        with_vfm_view: also return the VFM view (DeCLIP's context teacher).
        seed: the grid drawn for image i in epoch e depends only on (seed, e, i), so a resumed
            run sees the same grids as an uninterrupted one; :meth:`set_epoch` is called by
            ``DistillHook`` before every epoch.
    Item: ``dict(inputs=(3, S, S), data_samples=dict(boxes=(max_boxes, 5), crops=(max_boxes, 3,
    c, c), vfm_inputs=(3, V, V)))`` (crops / vfm_inputs only when asked for); unused box rows
    are zero (valid flag 0).
    """

    def __init__(self, img_dir: str, ann_file: Optional[str] = None, data_root: str = '',
                 image_size: int = 560, crop_size: int = 224, student_patch: int = 16,
                 vfm_patch: int = 14, max_split: int = 6, max_boxes: int = 20,
                 min_size: int = 10, seed: int = 0, grid_style: str = 'declip',
                 with_crops: bool = True, with_vfm_view: bool = True, **kwargs):
        self.img_dir = osp.join(data_root, img_dir)
        ann = osp.join(data_root, ann_file) if ann_file else None
        self.paths = list_images(self.img_dir, ann)
        if not self.paths:
            raise RuntimeError(f'no images found in {self.img_dir!r}'
                               f'{" listed by " + repr(ann) if ann else ""}')
        self.image_size, self.crop_size = image_size, crop_size
        self.student_patch, self.vfm_patch = student_patch, vfm_patch
        self.vfm_size = image_size // student_patch * vfm_patch
        self.choices = grid_choices(max_split, grid_style)
        self.with_crops, self.with_vfm_view = bool(with_crops), bool(with_vfm_view)
        self.max_boxes, self.min_size = max_boxes, min_size
        self.seed, self.epoch = seed, 0
        self.metainfo = dict(classes=())

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def read(self, path: str) -> Optional[Image.Image]:
        try:
            image = read_pil_rgb(path)  # the test pipeline's decoding: EXIF, 16-bit
        except Exception as err:  # noqa: BLE001 - a bad file must not stop a long run
            print_log(f'skipping unreadable image {path!r}: {err}', logger='current',
                      level=logging.WARNING)
            return None
        if min(image.size) < self.min_size:
            print_log(f'skipping tiny image {path!r} ({image.size[0]}x{image.size[1]})',
                      logger='current', level=logging.WARNING)
            return None
        return image

    def __getitem__(self, index: int) -> dict:
        rng = random.Random(f'{self.seed}-{self.epoch}-{index}')
        for _ in range(100):
            image = self.read(self.paths[index])
            if image is not None:
                return self.prepare(image, rng, index)
            index = rng.randrange(len(self.paths))
        raise RuntimeError(f'100 images in a row could not be read from {self.img_dir!r}')

    def prepare(self, image: Image.Image, rng: random.Random, index: int = 0) -> dict:
        w, h = image.size
        student, scale = resize_longest_padded(image, self.image_size)
        rows, cols = rng.choice(self.choices)
        cells = grid_boxes(rows, cols)
        order = list(range(len(cells)))
        rng.shuffle(order)
        cells = cells[order[:self.max_boxes]] * np.array([w, h, w, h])
        boxes = torch.zeros(self.max_boxes, 5)
        samples = dict(boxes=boxes)
        if self.with_crops:
            samples['crops'] = torch.zeros(self.max_boxes, 3, self.crop_size, self.crop_size)
        for i, (x0, y0, x1, y1) in enumerate(cells):
            if self.with_crops:
                crop = resize_max_centered(image.crop((x0, y0, x1, y1)), self.crop_size)
                samples['crops'][i] = to_tensor(crop, CLIP_MEAN_01, CLIP_STD_01)
            boxes[i, :4] = torch.tensor([x0, y0, x1, y1]) * scale / self.image_size
            boxes[i, 4] = 1.0
        if self.with_vfm_view:
            vfm_view, _ = resize_longest_padded(image, self.vfm_size)
            samples['vfm_inputs'] = to_tensor(vfm_view, IMAGENET_MEAN_01, IMAGENET_STD_01)
        return dict(inputs=to_tensor(student, CLIP_MEAN_01, CLIP_STD_01), data_samples=samples)

