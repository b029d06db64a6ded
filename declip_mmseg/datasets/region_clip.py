"""Pseudo-labelled boxes for the RegionCLIP mode of DenseVLM's code base (``COCORegionCLIPDataset``).

``coco_pseudo_4764.json`` (CLIPSelf's release) is COCO-format: ``images``, ``annotations``
with ``bbox`` [x, y, w, h] and ``category_id``, and 4764 ``categories``. Per image (only
images with annotations, in the order their first annotation appears):

* the student view of :class:`GridDistillDataset` (long side ``image_size``, right / bottom
  zero padding, CLIP normalization);
* the first ``min(most annotations of an image, max_boxes)`` annotations in file order:
  xyxy normalized to the padded view, the class (rank of ``category_id`` among the sorted
  ids) and a valid flag: ``boxes`` (max_anns, 6).
"""
import json
import os.path as osp
import random
from collections import OrderedDict

import torch
from mmseg.registry import DATASETS
from PIL import Image

from ..clip.constants import CLIP_MEAN_01, CLIP_STD_01
from .grid_distill import GridDistillDataset
from .transforms.pil import resize_longest_padded, to_tensor


@DATASETS.register_module()
class RegionCLIPDataset(GridDistillDataset):
    """Images with pseudo-labelled boxes (``coco_pseudo_4764.json``).

    Args:
        ann_file: the COCO-format pseudo-label file (relative to ``data_root``).
        img_dir: image folder (relative to ``data_root``).
        image_size: student input size (square, padded).
        max_boxes: at most this many boxes per image (20).
        min_size, seed: as :class:`GridDistillDataset` (unreadable images are skipped with a
            warning and another one is drawn).
    ``metainfo['classes']``: the category names in label order.
    """

    def __init__(self, ann_file: str = 'coco_pseudo_4764.json', img_dir: str = 'train2017',
                 data_root: str = '', image_size: int = 512, max_boxes: int = 20,
                 min_size: int = 10, seed: int = 0, **kwargs):
        self.img_dir = osp.join(data_root, img_dir)
        path = osp.join(data_root, ann_file)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'pseudo-label file {path!r} does not exist: RegionCLIP trains on CLIPSelf\'s '
                'coco_pseudo_4764.json (see github.com/wusize/CLIPSelf, "Data preparation")')
        with open(path) as f:
            try:
                data = json.load(f)
                images = {img['id']: img['file_name'] for img in data['images']}
                anns, cats = data['annotations'], data['categories']
            except (ValueError, KeyError, TypeError) as err:
                raise RuntimeError(f'{path!r} is not a COCO-format file with images, '
                                   f'annotations and categories: {err}') from err
        cats = sorted(cats, key=lambda c: c['id'])
        label = {c['id']: i for i, c in enumerate(cats)}
        per_image = OrderedDict()
        for ann in anns:
            x, y, w, h = ann['bbox']
            per_image.setdefault(ann['image_id'], []).append(
                (x, y, x + w, y + h, label[ann['category_id']]))
        if not per_image:
            raise RuntimeError(f'{path!r} has no annotations: nothing to train on')
        self.image_ids = list(per_image)
        self.paths = [osp.join(self.img_dir, images[i]) for i in self.image_ids]
        self.boxes = [per_image[i] for i in self.image_ids]
        self.max_boxes = min(max(len(b) for b in self.boxes), int(max_boxes))
        self.image_size, self.min_size = int(image_size), min_size
        self.seed, self.epoch = seed, 0
        self.metainfo = dict(classes=tuple(c.get('name', str(c['id'])) for c in cats))

    def prepare(self, image: Image.Image, rng: random.Random, index: int = 0) -> dict:
        student, scale = resize_longest_padded(image, self.image_size)
        rows = torch.zeros(self.max_boxes, 6)
        for i, (x0, y0, x1, y1, cls) in enumerate(self.boxes[index][:self.max_boxes]):
            rows[i, :4] = torch.tensor([x0, y0, x1, y1]) * scale / self.image_size
            rows[i, 4], rows[i, 5] = cls, 1.0
        return dict(inputs=to_tensor(student, CLIP_MEAN_01, CLIP_STD_01),
                    data_samples=dict(boxes=rows))
