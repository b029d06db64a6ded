"""COCO / ADE20K panoptic regions (boxes + masks + labels) for region classification
(DeCLIP's validation, DenseVLM's Table 1).

One sample is an image prepared as DeCLIP's ``COCOPanopticDataset`` does:

* image: long side resized to ``image_size`` (PIL bicubic, ratio kept), padded
  with black on the right / bottom to ``image_size`` x ``image_size``, then
  CLIP-normalized (so the padding is ``-mean / std``), RGB;
* regions: the first ``max_regions`` segments of the image in the json; a
  thing's box is its annotated bbox, a stuff segment's box the extent of its
  mask (inclusive max, DeCLIP's ``mask2box``); boxes of area below 8^2 or
  above 1024^2 (original pixels) are dropped; boxes are scaled as the image and
  divided by ``image_size`` (xyxy in [0, 1] of the padded canvas);
* masks: each segment's mask, resized as a float map with the long side to
  ``image_size // patch_size`` (bicubic, no antialias), padded, ``> 0``; i.e.
  at the backbone's feature-grid resolution.
"""
import json
import os.path as osp
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from mmengine.dataset import BaseDataset
from mmseg.registry import DATASETS
from PIL import Image
from torchvision.transforms import InterpolationMode

from ..clip.constants import CLIP_MEAN_01, CLIP_STD_01
from .coco_object import COCO_THINGS
from .converters.ade20k_panoptic import ADE20K_THING_IDS, ade20k_classes
from .transforms.loading import read_pil_rgb
from .transforms.pil import resize_longest

# The 53 stuff classes of panoptic_coco_categories.json, in category-id order (92 ... 200).
COCO_PANOPTIC_STUFF = (
    'banner', 'blanket', 'bridge', 'cardboard', 'counter', 'curtain', 'door-stuff', 'floor-wood',
    'flower', 'fruit', 'gravel', 'house', 'light', 'mirror-stuff', 'net', 'pillow', 'platform',
    'playingfield', 'railroad', 'river', 'road', 'roof', 'sand', 'sea', 'shelf', 'snow', 'stairs',
    'tent', 'towel', 'wall-brick', 'wall-stone', 'wall-tile', 'wall-wood', 'water-other',
    'window-blind', 'window-other', 'tree-merged', 'fence-merged', 'ceiling-merged',
    'sky-other-merged', 'cabinet-merged', 'table-merged', 'floor-other-merged', 'pavement-merged',
    'mountain-merged', 'grass-merged', 'dirt-merged', 'paper-merged', 'food-other-merged',
    'building-other-merged', 'rock-merged', 'wall-other-merged', 'rug-merged')
COCO_PANOPTIC_CLASSES = COCO_THINGS + COCO_PANOPTIC_STUFF  # 133, sorted by category id
ADE20K_CLASSES = ade20k_classes()                          # 150, ADE20K label order

MIN_BOX_SIDE = 8      # DeCLIP's min_size: boxes with w * h < 8 ** 2 are dropped
MAX_BOX_SIDE = 1024   # and those with w * h > 1024 ** 2

HINT = ('Prepare COCO panoptic as README.md (Data) shows, or point the config at your copy with '
        '--cfg-options test_dataloader.dataset.data_root=PATH')


def rgb2id(rgb: np.ndarray) -> np.ndarray:
    """Panoptic segment ids from an (H, W, 3) uint8 PNG: R + 256 G + 256^2 B, (H, W) int64."""
    rgb = rgb.astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]


def mask2box(mask: np.ndarray):
    """(x0, y0, x1, y1) of a boolean (H, W) mask, max inclusive (DeCLIP's ``mask2box``)."""
    ys, xs = np.where(mask)
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def _read_pil(path: str) -> Image.Image:
    with Image.open(path) as img:
        img.load()
        return img


def load_image(path: str, what: str, read=_read_pil) -> Image.Image:
    """Read an image file fully with ``read`` (default: Pillow as stored, for the panoptic PNGs;
    photos use :func:`read_pil_rgb`, the test pipeline's reader), with errors that name it."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} {path!r} does not exist. {HINT}')
    try:
        return read(path)
    except Exception as err:  # noqa: BLE001 - PIL raises several types for broken files
        raise ValueError(f'cannot read {what} {path!r} ({type(err).__name__}: {err}); '
                         'the file is corrupt or truncated: download it again') from err


@DATASETS.register_module()
class COCOPanopticRegionDataset(BaseDataset):
    """Region-classification samples from COCO panoptic (DeCLIP's validation).

    Args:
        ann_file: ``panoptic_val2017.json`` (relative to ``data_root`` unless absolute).
        img_dir: folder of the JPEG images (``val2017``).
        seg_dir: folder of the panoptic PNGs (``annotations/panoptic_val2017``).
        data_root: prefix of the three paths.
        image_size: side S of the square, padded network input (pixels).
        patch_size: backbone patch size p; masks are (S // p, S // p).
        max_regions: segments considered per image (the first ones in the json,
            before the size filter, as DeCLIP).

    Classes (``metainfo['classes']``) are the json's categories sorted by id;
    ``metainfo['is_thing']`` gives their ``isthing`` flags.  Before the json
    is read (``lazy_init=True``) they are the 133 official COCO panoptic names.

    ``dataset[i]`` is ``dict(inputs=(3, S, S) float, data_samples=dict(
    boxes=(N, 4) float xyxy in [0, 1], masks=(N, S/p, S/p) bool, labels=(N,) long,
    is_thing=(N,) bool, img_path=str))``.  ``pipeline`` (default none) is
    applied to that dict.
    """
    METAINFO = dict(classes=COCO_PANOPTIC_CLASSES,
                    is_thing=(True,) * len(COCO_THINGS) + (False,) * len(COCO_PANOPTIC_STUFF))

    def __init__(self, ann_file: str = 'annotations/panoptic_val2017.json',
                 img_dir: str = 'val2017', seg_dir: str = 'annotations/panoptic_val2017',
                 data_root: str = '', image_size: int = 560, patch_size: int = 16,
                 max_regions: int = 100, **kwargs) -> None:
        if image_size % patch_size:
            raise ValueError(f'image_size {image_size} must be a multiple of '
                             f'patch_size {patch_size}')
        if max_regions < 1:
            raise ValueError(f'max_regions must be positive, got {max_regions}')
        self.image_size = int(image_size)
        self.patch_size = int(patch_size)
        self.max_regions = int(max_regions)
        super().__init__(ann_file=ann_file, data_root=data_root,
                         data_prefix=dict(img_path=img_dir, seg_map_path=seg_dir), **kwargs)

    @property
    def grid_size(self) -> int:
        """Side of the feature grid the masks are given at."""
        return self.image_size // self.patch_size

    # -- annotations -------------------------------------------------------
    def _read_json(self) -> dict:
        path = self.ann_file
        if not osp.isfile(path):
            raise FileNotFoundError(f'panoptic annotation file {path!r} does not exist. {HINT}')
        try:
            with open(path) as f:
                data = json.load(f)
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError(f'panoptic annotation file {path!r} is not valid json ({err}); '
                             'download panoptic_annotations_trainval2017.zip again') from err
        missing = [k for k in ('images', 'annotations', 'categories')
                   if not isinstance(data, dict) or k not in data]
        if missing:
            raise ValueError(f'{path!r} is not a COCO panoptic annotation file: no {missing} '
                             'entries (expected panoptic_val2017.json)')
        return data

    def load_data_list(self) -> List[dict]:
        """One entry per image that has a panoptic annotation, in the json's image order."""
        data = self._read_json()
        for what, folder in (('image', self.data_prefix['img_path']),
                             ('panoptic PNG', self.data_prefix['seg_map_path'])):
            if not osp.isdir(folder):
                raise FileNotFoundError(f'{what} folder {folder!r} does not exist. {HINT}')
        cats = sorted(data['categories'], key=lambda c: c['id'])
        cat_to_label = {c['id']: i for i, c in enumerate(cats)}
        self._metainfo.update(classes=tuple(c['name'] for c in cats),
                              is_thing=tuple(bool(c.get('isthing', 0)) for c in cats))
        anns = {a['image_id']: a for a in data['annotations']}
        data_list = []
        for img in data['images']:
            ann = anns.get(img['id'])
            if ann is None:
                continue
            segments = []
            for seg in ann['segments_info']:
                if seg['category_id'] not in cat_to_label:
                    raise ValueError(f'{self.ann_file!r}: segment {seg["id"]} of image {img["id"]} '
                                     f'has category {seg["category_id"]}, not in "categories"')
                label = cat_to_label[seg['category_id']]
                segments.append(dict(id=int(seg['id']), label=label, bbox=list(seg['bbox']),
                                     is_thing=bool(cats[label].get('isthing', 0))))
            seg_name = ann.get('file_name') or osp.splitext(img['file_name'])[0] + '.png'
            data_list.append(dict(
                img_path=osp.join(self.data_prefix['img_path'], img['file_name']),
                seg_map_path=osp.join(self.data_prefix['seg_map_path'], seg_name),
                img_id=img['id'], segments=segments))
        if not data_list:
            raise RuntimeError(f'the COCO panoptic set {self.ann_file!r} lists no image with a '
                               f'panoptic annotation: nothing to evaluate. {HINT}')
        return data_list

    # -- one sample --------------------------------------------------------
    def prepare_data(self, idx: int) -> dict:
        info = self.get_data_info(idx)
        image = load_image(info['img_path'], 'image', read=read_pil_rgb)
        png = load_image(info['seg_map_path'], 'panoptic PNG')
        if png.mode not in ('RGB', 'RGBA'):
            raise ValueError(f'panoptic PNG {info["seg_map_path"]!r} has mode {png.mode}; '
                             'expected RGB-encoded segment ids (R + 256 G + 256^2 B)')
        if png.size != image.size:
            raise ValueError(f'panoptic PNG {info["seg_map_path"]!r} is '
                             f'{png.size[0]}x{png.size[1]} but image {info["img_path"]!r} is '
                             f'{image.size[0]}x{image.size[1]}')
        segm = rgb2id(np.asarray(png.convert('RGB')))
        regions = self.regions(info, segm)
        sample = dict(inputs=self.image_tensor(image),
                      data_samples=dict(regions, img_path=info['img_path']))
        return self.pipeline(sample)

    def image_tensor(self, image: Image.Image) -> torch.Tensor:
        """PIL RGB image -> (3, S, S) float: resize longest, pad black, CLIP-normalize."""
        S = self.image_size
        _, h, w = resize_longest(image.height, image.width, S)
        resized = TF.to_tensor(TF.resize(image, [h, w], InterpolationMode.BICUBIC))
        canvas = torch.zeros(3, S, S)
        canvas[:, :h, :w] = resized
        return TF.normalize(canvas, CLIP_MEAN_01, CLIP_STD_01)

    def regions(self, info: dict, segm: np.ndarray) -> Dict[str, torch.Tensor]:
        """Boxes, grid masks, labels and thing flags of an image's segments.

        ``segm`` is the (H, W) id map of the panoptic PNG.
        """
        H, W = segm.shape
        scale, _, _ = resize_longest(H, W, self.image_size)
        boxes, labels, is_thing, ids = [], [], [], []
        for seg in info['segments'][:self.max_regions]:
            if seg['is_thing']:
                x, y, w, h = seg['bbox']
                box = [x, y, x + w, y + h]
            else:
                mask = segm == seg['id']
                if not mask.any():
                    raise ValueError(f'segment {seg["id"]} listed in the json for '
                                     f'{info["img_path"]!r} is absent from its panoptic PNG '
                                     f'{info["seg_map_path"]!r}; the PNG does not belong to this '
                                     'annotation file')
                box = list(mask2box(mask))
            area = (box[2] - box[0]) * (box[3] - box[1])
            if area < MIN_BOX_SIDE ** 2 or area > MAX_BOX_SIDE ** 2:
                continue
            boxes.append(box)
            labels.append(seg['label'])
            is_thing.append(seg['is_thing'])
            ids.append(seg['id'])
        boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
        boxes = boxes * scale / self.image_size
        return dict(boxes=boxes, masks=self.grid_masks(segm, ids),
                    labels=torch.tensor(labels, dtype=torch.long),
                    is_thing=torch.tensor(is_thing, dtype=torch.bool))

    def grid_masks(self, segm: np.ndarray, ids: List[int]) -> torch.Tensor:
        """(N, g, g) bool masks at the feature grid g = S // p (DeCLIP's ``segm_transform``)."""
        g = self.grid_size
        if not ids:
            return torch.zeros(0, g, g, dtype=torch.bool)
        _, h, w = resize_longest(segm.shape[0], segm.shape[1], g)
        out = []
        for start in range(0, len(ids), 16):  # bounded memory: 16 full-size float masks at a time
            chunk = np.asarray(ids[start:start + 16])[:, None, None]
            masks = torch.from_numpy(segm[None] == chunk).float()
            masks = TF.resize(masks, [h, w], InterpolationMode.BICUBIC, antialias=False)
            out.append(F.pad(masks, (0, g - w, 0, g - h)) > 0.0)
        return torch.cat(out)


@DATASETS.register_module()
class ADE20KPanopticRegionDataset(COCOPanopticRegionDataset):
    """Region-classification samples from ADE20K panoptic val (DenseVLM's ADE20K columns).

    The files are those of Mask2Former's converter (``ade20k_panoptic_val.json`` with
    categories 0..149 and ``ade20k_panoptic_val/*.png``); make them with
    ``python datasets/prepare_ade20k_panoptic.py data/ade/ADEChallengeData2016``.
    Everything else is :class:`COCOPanopticRegionDataset`'s (boxes, masks, filters).
    """
    METAINFO = dict(classes=ADE20K_CLASSES,
                    is_thing=tuple(i in ADE20K_THING_IDS for i in range(len(ADE20K_CLASSES))))

    def __init__(self, ann_file: str = 'ade20k_panoptic_val.json',
                 img_dir: str = 'images/validation', seg_dir: str = 'ade20k_panoptic_val',
                 data_root: str = 'data/ade/ADEChallengeData2016', **kwargs) -> None:
        super().__init__(ann_file=ann_file, img_dir=img_dir, seg_dir=seg_dir,
                         data_root=data_root, **kwargs)

    def _read_json(self) -> dict:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'ADE20K panoptic annotation file {self.ann_file!r} does not exist. Make it '
                'from ADEChallengeData2016 (annotations/ and annotations_instance/) with '
                'python datasets/prepare_ade20k_panoptic.py data/ade/ADEChallengeData2016')
        return super()._read_json()
