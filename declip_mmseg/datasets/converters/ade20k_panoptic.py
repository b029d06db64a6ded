"""ADE20K panoptic annotations (``ade20k_panoptic_val.json`` + PNGs) from ADEChallengeData2016.

DenseVLM evaluates region classification on the files that Mask2Former's
``prepare_ade20k_pan_seg.py`` writes; :func:`convert_ade20k_panoptic` makes the same layout:

* categories: the 150 classes of ADE20K, ids 0..149 in the benchmark's order, ``isthing`` = 1
  for the 100 classes of the instance annotations (:data:`ADE20K_INSTANCE_TO_SEMANTIC`);
* per image: first one segment per stuff class of the semantic map (``annotations/``,
  labels 1..150, 0 = unlabeled), then one segment per instance of ``annotations_instance/``
  (R = instance class 1..100, G = instance id, 0 = none), pasted over the stuff;
* segments_info: id, category_id, area, bbox [x, y, w, h] (w, h inclusive), iscrowd 0; PNGs
  with RGB-encoded segment ids (R + 256 G + 256^2 B), named like the image; image ids are
  the file stems (``ADE_val_00000001``).

Segment ids are numbered per image (Mask2Former draws random colours; the evaluation does
not depend on them).
"""
import json
import os
import os.path as osp
from typing import Dict, Optional

import numpy as np
from PIL import Image

# Mask2Former's datasets/ade20k_instance_catid_mapping.txt: instance class -> ADE-150 class
# (both 1-based). Instance classes 5, 18 and 57 have two rows with the same target.
ADE20K_INSTANCE_TO_SEMANTIC = {
    1: 8, 2: 9, 3: 11, 4: 13, 5: 15, 6: 16, 7: 19, 8: 20, 9: 21, 10: 23, 11: 24, 12: 25,
    13: 28, 14: 31, 15: 32, 16: 33, 17: 34, 18: 36, 19: 37, 20: 38, 21: 39, 22: 40, 23: 42,
    24: 43, 25: 44, 26: 45, 27: 46, 28: 48, 29: 50, 30: 51, 31: 54, 32: 56, 33: 57, 34: 58,
    35: 59, 36: 63, 37: 65, 38: 66, 39: 67, 40: 68, 41: 70, 42: 71, 43: 72, 44: 73, 45: 74,
    46: 75, 47: 76, 48: 77, 49: 79, 50: 81, 51: 82, 52: 83, 53: 84, 54: 86, 55: 87, 56: 88,
    57: 89, 58: 90, 59: 91, 60: 93, 61: 94, 62: 96, 63: 98, 64: 99, 65: 103, 66: 104,
    67: 105, 68: 108, 69: 109, 70: 111, 71: 112, 72: 113, 73: 116, 74: 117, 75: 119, 76: 120,
    77: 121, 78: 122, 79: 124, 80: 125, 81: 126, 82: 127, 83: 128, 84: 130, 85: 131, 86: 133,
    87: 134, 88: 135, 89: 136, 90: 137, 91: 138, 92: 139, 93: 140, 94: 143, 95: 144, 96: 145,
    97: 147, 98: 148, 99: 149, 100: 150}
ADE20K_THING_IDS = frozenset(v - 1 for v in ADE20K_INSTANCE_TO_SEMANTIC.values())  # 0-based


def ade20k_classes():
    """The 150 ADE20K class names in label order (mmsegmentation's)."""
    from mmseg.datasets import ADE20KDataset
    return tuple(ADE20KDataset.METAINFO['classes'])


def id2rgb(ids: np.ndarray) -> np.ndarray:
    """(H, W) int segment ids -> (H, W, 3) uint8 (R + 256 G + 256^2 B)."""
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)


def _segment(mask: np.ndarray, seg_id: int, category: int) -> dict:
    ys, xs = np.nonzero(mask)
    return {'id': int(seg_id), 'category_id': int(category), 'area': int(mask.sum()),
            'bbox': [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                     int(ys.max() - ys.min() + 1)], 'iscrowd': 0}


def convert_image(semantic: np.ndarray, instance: np.ndarray):
    """One image: (H, W) uint8 semantic labels and (H, W, 3) uint8 instance map ->
    ((H, W) int64 panoptic ids, segments_info)."""
    if semantic.shape != instance.shape[:2]:
        raise ValueError(f'semantic map {semantic.shape} and instance map '
                         f'{instance.shape[:2]} differ in size')
    ids = np.zeros(semantic.shape, np.int64)
    segments, next_id = [], 1
    for label in np.unique(semantic):
        category = int(label) - 1
        if label == 0 or category in ADE20K_THING_IDS:
            continue
        mask = semantic == label
        ids[mask] = next_id
        segments.append(_segment(mask, next_id, category))
        next_id += 1
    for inst in np.unique(instance[..., 1]):
        if inst == 0:
            continue
        mask = instance[..., 1] == inst
        classes = np.unique(instance[..., 0][mask])
        if len(classes) != 1 or int(classes[0]) not in ADE20K_INSTANCE_TO_SEMANTIC:
            raise ValueError(f'instance {inst} has instance classes {classes.tolist()}; expected '
                             'one of 1..100')
        ids[mask] = next_id
        segments.append(_segment(mask, next_id,
                                 ADE20K_INSTANCE_TO_SEMANTIC[int(classes[0])] - 1))
        next_id += 1
    return ids, segments


def convert_ade20k_panoptic(root: str, split: str = 'val', limit: Optional[int] = None,
                            log=print) -> Dict[str, str]:
    """Write ``<root>/ade20k_panoptic_<split>.json`` and ``<root>/ade20k_panoptic_<split>/``.

    ``root`` is ADEChallengeData2016 with ``images/``, ``annotations/`` and
    ``annotations_instance/`` (from the ADE20K instance-segmentation release); returns the
    written paths."""
    folder = {'val': 'validation', 'train': 'training'}[split]
    dirs = {name: osp.join(root, name, folder)
            for name in ('images', 'annotations', 'annotations_instance')}
    for name, path in dirs.items():
        if not osp.isdir(path):
            raise FileNotFoundError(
                f'{path!r} does not exist. {root!r} must be ADEChallengeData2016 with images/, '
                'annotations/ (ADEChallengeData2016.zip) and annotations_instance/ '
                '(annotations_instance.tar from the ADE20K instance-segmentation release)')
    names = sorted(f for f in os.listdir(dirs['images']) if f.endswith('.jpg'))[:limit]
    if not names:
        raise FileNotFoundError(
            f"no .jpg images in {dirs['images']!r}: nothing to convert (an empty json would "
            'evaluate nothing). Unpack ADEChallengeData2016.zip there'
            + (f' (limit={limit})' if limit is not None else ''))
    out_dir = osp.join(root, f'ade20k_panoptic_{split}')
    os.makedirs(out_dir, exist_ok=True)
    images, annotations = [], []
    for i, name in enumerate(names):
        stem = osp.splitext(name)[0]
        semantic = np.asarray(Image.open(osp.join(dirs['annotations'], stem + '.png')))
        instance = np.asarray(Image.open(osp.join(dirs['annotations_instance'], stem + '.png'))
                              .convert('RGB'))
        ids, segments = convert_image(semantic, instance)
        Image.fromarray(id2rgb(ids)).save(osp.join(out_dir, stem + '.png'))
        images.append({'id': stem, 'file_name': name, 'height': int(ids.shape[0]),
                       'width': int(ids.shape[1])})
        annotations.append({'image_id': stem, 'file_name': stem + '.png',
                            'segments_info': segments})
        if log and (i + 1) % 500 == 0:
            log(f'{i + 1} / {len(names)} images')
    categories = [{'id': i, 'name': n, 'isthing': int(i in ADE20K_THING_IDS)}
                  for i, n in enumerate(ade20k_classes())]
    out_json = osp.join(root, f'ade20k_panoptic_{split}.json')
    with open(out_json + '.tmp', 'w') as f:
        json.dump({'images': images, 'annotations': annotations, 'categories': categories}, f)
    os.replace(out_json + '.tmp', out_json)
    return {'json': out_json, 'png_dir': out_dir}
