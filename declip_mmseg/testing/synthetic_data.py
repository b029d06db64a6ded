"""Tiny synthetic copies of the 8 benchmarks in their real folder layouts and file names
(used by the tests and by tools/selfcheck.py).

Each image is a few coloured rectangles; its label map marks the same
rectangles with label values in the range the real dataset uses (including
255 = ignore where the real annotations have it).
"""
import json
import os
import os.path as osp

import numpy as np
from PIL import Image

from ..datasets.converters.coco_object import STUFF164K_RAW_TO_TRAIN

VOC_PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0, 0, 0, 128, 128, 0, 128, 0, 128, 128,
               128, 128, 128, 64, 0, 0, 192, 0, 0, 64, 128, 0, 192, 128, 0, 64, 0, 128, 192, 0, 128,
               64, 128, 128, 192, 128, 128, 0, 64, 0, 128, 64, 0, 0, 192, 0, 128, 192, 0, 0, 64, 128]


def _scene(rng, size, labels):
    """An RGB image and its label map, (H, W, 3) uint8 and (H, W) uint8."""
    h, w = size
    label = np.full((h, w), labels[0], np.uint8)
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = rng.integers(0, 255, 3)
    for value in labels[1:]:
        y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
        dy, dx = rng.integers(h // 4, h // 2 + 1), rng.integers(w // 4, w // 2 + 1)
        label[y:y + dy, x:x + dx] = value
        img[y:y + dy, x:x + dx] = rng.integers(0, 255, 3)
    img = np.clip(img.astype(int) + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
    return img, label


def _sizes(n):
    return [(57 + 13 * i, 83 + 7 * i) for i in range(n)]  # odd, non-square sizes


def _write(path, array, palette=None):
    os.makedirs(osp.dirname(path), exist_ok=True)
    image = Image.fromarray(array)
    if palette is not None:
        image.putpalette(palette)  # an 'L' image becomes 'P' with the same indices
    image.save(path)


def make_voc(root, n=3, seed=0):
    """VOCdevkit/VOC2012: JPEGImages, SegmentationClass (palette PNG, 0-20, 255)."""
    rng = np.random.default_rng(seed)
    ids = [f'2007_{i:06d}' for i in range(n)]
    for img_id, size in zip(ids, _sizes(n)):
        img, label = _scene(rng, size, [0] + list(rng.choice(np.arange(1, 21), 2, replace=False)))
        label[:, :2] = 255  # object boundaries are 255 in VOC
        _write(osp.join(root, 'JPEGImages', f'{img_id}.jpg'), img)
        _write(osp.join(root, 'SegmentationClass', f'{img_id}.png'), label, VOC_PALETTE * 4)
    _write_split(osp.join(root, 'ImageSets', 'Segmentation', 'val.txt'), ids)
    return root


def make_context(root, n=3, seed=1):
    """VOCdevkit/VOC2010: JPEGImages, SegmentationClassContext (0-59), SegmentationContext/val.txt."""
    rng = np.random.default_rng(seed)
    ids = [f'2008_{i:06d}' for i in range(n)]
    for img_id, size in zip(ids, _sizes(n)):
        img, label = _scene(rng, size, list(rng.choice(np.arange(0, 60), 3, replace=False)))
        _write(osp.join(root, 'JPEGImages', f'{img_id}.jpg'), img)
        _write(osp.join(root, 'SegmentationClassContext', f'{img_id}.png'), label)
    _write_split(osp.join(root, 'ImageSets', 'SegmentationContext', 'val.txt'), ids)
    return root


def make_cityscapes(root, n=3, seed=2):
    """cityscapes: leftImg8bit/val/<city>/*_leftImg8bit.png, gtFine/val/<city>/*_gtFine_labelTrainIds.png."""
    rng = np.random.default_rng(seed)
    for i, size in enumerate(_sizes(n)):
        city = ['frankfurt', 'lindau', 'munster'][i % 3]
        stem = f'{city}_{i:06d}_000019'
        img, label = _scene(rng, size, [0] + list(rng.choice(np.arange(1, 19), 2, replace=False)))
        label[-2:, :] = 255
        _write(osp.join(root, 'leftImg8bit', 'val', city, f'{stem}_leftImg8bit.png'), img)
        _write(osp.join(root, 'gtFine', 'val', city, f'{stem}_gtFine_labelTrainIds.png'), label)
    return root


def make_ade(root, n=3, seed=3):
    """ade/ADEChallengeData2016: images/validation/ADE_val_*.jpg, annotations/validation/*.png (0-150)."""
    rng = np.random.default_rng(seed)
    for i, size in enumerate(_sizes(n)):
        stem = f'ADE_val_{i + 1:08d}'
        img, label = _scene(rng, size, [0] + list(rng.choice(np.arange(1, 151), 2, replace=False)))
        _write(osp.join(root, 'images', 'validation', f'{stem}.jpg'), img)
        _write(osp.join(root, 'annotations', 'validation', f'{stem}.png'), label)
    return root


COCO_IDS = [139, 285, 632]


def make_coco_stuff(root, n=3, seed=4, raw=True):
    """coco_stuff164k: images/val2017/<id>.jpg, annotations/val2017/<id>_labelTrainIds.png (0-170, 255).

    With ``raw`` also the original stuffthingmaps ``<id>.png`` (ids 0-181,
    255) that ``datasets/cvt_coco_object.py`` reads.
    """
    rng = np.random.default_rng(seed)
    raw_ids = np.array(sorted(k for k in STUFF164K_RAW_TO_TRAIN if k != 255))
    for img_id, size in zip(COCO_IDS[:n], _sizes(n)):
        stem = f'{img_id:012d}'
        img, raw_label = _scene(rng, size, list(rng.choice(raw_ids, 3, replace=False)))
        raw_label[:2, :2] = 255
        train = np.vectorize(STUFF164K_RAW_TO_TRAIN.get)(raw_label).astype(np.uint8)
        _write(osp.join(root, 'images', 'val2017', f'{stem}.jpg'), img)
        _write(osp.join(root, 'annotations', 'val2017', f'{stem}_labelTrainIds.png'), train)
        if raw:
            _write(osp.join(root, 'annotations', 'val2017', f'{stem}.png'), raw_label)
    return root


def _write_split(path, ids):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(ids) + '\n')


# config name -> (maker, data_root below the temporary folder)
LAYOUTS = {
    'voc21': (make_voc, 'VOCdevkit/VOC2012'),
    'voc20': (make_voc, 'VOCdevkit/VOC2012'),
    'context60': (make_context, 'VOCdevkit/VOC2010'),
    'context59': (make_context, 'VOCdevkit/VOC2010'),
    'city_scapes': (make_cityscapes, 'cityscapes'),
    'ade20k': (make_ade, 'ade/ADEChallengeData2016'),
    'coco_stuff164k': (make_coco_stuff, 'coco_stuff164k'),
    'coco_object': (make_coco_stuff, 'coco_stuff164k'),
}


# class count of each benchmark
NUM_CLASSES = {'voc21': 21, 'voc20': 20, 'context60': 60, 'context59': 59, 'city_scapes': 19,
               'ade20k': 150, 'coco_stuff164k': 171, 'coco_object': 81}


# -- distillation images (data/coco/train2017 layout) ---------------------------------------
def make_images(folder, n=4, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    names = []
    for i in range(n):
        h, w = 40 + 9 * i, 70 - 5 * i
        arr = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        arr[h // 3:, : w // 2] = rng.integers(0, 255, 3)
        name = f'{i:012d}.jpg'
        Image.fromarray(arr).save(osp.join(folder, name))
        names.append(name)
    return names


def make_coco(root, n=4):
    names = make_images(osp.join(root, 'train2017'), n)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    with open(osp.join(root, 'annotations', 'instances_train2017.json'), 'w') as f:
        json.dump({'images': [{'id': i, 'file_name': n} for i, n in enumerate(names)],
                   'annotations': [], 'categories': []}, f)
    return root



# -- COCO panoptic (data/coco layout), for region classification ---------------------------
# deliberately not sorted by id: labels follow the sorted ids
COCO_PANOPTIC_CATEGORIES = [
    {'id': 92, 'name': 'banner', 'isthing': 0, 'supercategory': 'textile'},
    {'id': 3, 'name': 'car', 'isthing': 1, 'supercategory': 'vehicle'},
    {'id': 1, 'name': 'person', 'isthing': 1, 'supercategory': 'person'},
    {'id': 184, 'name': 'tree-merged', 'isthing': 0, 'supercategory': 'plant'},
    {'id': 18, 'name': 'dog', 'isthing': 1, 'supercategory': 'animal'},
    {'id': 149, 'name': 'road', 'isthing': 0, 'supercategory': 'ground'},
]
COCO_PANOPTIC_NAMES = ['person', 'car', 'dog', 'banner', 'road', 'tree-merged']   # sorted by id
COCO_PANOPTIC_SIZES = [(47, 71), (90, 53), (64, 64)]                              # (H, W)

def segment_id(k):
    """Ids that use all three PNG channels."""
    return 5 + 3 * k + 256 * (k + 1) + 65536 * (k % 2)


def id2rgb(ids):
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536], -1).astype(np.uint8)


def make_coco_panoptic(root, seed=0):
    """data/coco layout: val2017/*.jpg, annotations/panoptic_val2017{.json,/*.png}.

    Each image: two stuff bands (top / bottom), two thing rectangles, a 2x2
    thing (dropped: area < 64), an unlabeled strip (id 0).  Returns the json.
    """
    rng = np.random.default_rng(seed)
    cat_ids = {c['name']: c['id'] for c in COCO_PANOPTIC_CATEGORIES}
    os.makedirs(osp.join(root, 'val2017'))
    os.makedirs(osp.join(root, 'annotations', 'panoptic_val2017'))
    images, annotations, k = [], [], 0
    for i, (h, w) in enumerate(COCO_PANOPTIC_SIZES):
        ids = np.zeros((h, w), np.int64)
        segments = []

        def add(name, y0, y1, x0, x1):
            nonlocal k
            sid = segment_id(k)
            k += 1
            ids[y0:y1, x0:x1] = sid
            ys, xs = np.where(ids == sid)
            segments.append({'id': int(sid), 'category_id': cat_ids[name], 'iscrowd': 0,
                             'area': int(len(ys)),
                             'bbox': [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                      int(ys.max() - ys.min() + 1)]})
        add(['tree-merged', 'banner', 'road'][i], 0, h // 2, 0, w)
        add(['road', 'tree-merged', 'banner'][i], h // 2, h, 3, w)  # columns 0-2 stay void
        add(['person', 'dog', 'car'][i], 5 + i, h // 2 + 4, 4, w // 2)
        add(['car', 'person', 'dog'][i], h // 3, h - 6, w // 2 + 3, w - 2 - i)
        add('dog', 1, 3, w - 4, w - 2)                               # 2x2: dropped
        stem = f'{139 + i:012d}'
        img = np.clip(rng.integers(0, 255, 3) + id2rgb(ids) // 3 + rng.integers(0, 30, (h, w, 3)),
                      0, 255).astype(np.uint8)
        Image.fromarray(img).save(osp.join(root, 'val2017', stem + '.jpg'), quality=95)
        Image.fromarray(id2rgb(ids)).save(osp.join(root, 'annotations', 'panoptic_val2017',
                                                   stem + '.png'))
        images.append({'id': 139 + i, 'file_name': stem + '.jpg', 'height': h, 'width': w})
        annotations.append({'image_id': 139 + i, 'file_name': stem + '.png',
                            'segments_info': segments})
    data = {'images': images, 'annotations': annotations, 'categories': COCO_PANOPTIC_CATEGORIES}
    with open(osp.join(root, 'annotations', 'panoptic_val2017.json'), 'w') as f:
        json.dump(data, f)
    return data


def make_raw_ade(root, n=2, seed=0):
    """ADEChallengeData2016 with images/, annotations/ and annotations_instance/ (validation).

    Each image: wall (label 1) on top, sky (3) at the bottom, a void corner (0), two persons
    (instance class 4 -> label 13) and a car (instance class 9 -> label 21) pasted over the
    stuff; the semantic map marks the things too, as ADE's does."""
    rng = np.random.default_rng(seed)
    for sub in ('images', 'annotations', 'annotations_instance'):
        os.makedirs(osp.join(root, sub, 'validation'), exist_ok=True)
    for i in range(n):
        h, w = 48 + 8 * i, 72 - 6 * i
        sem = np.ones((h, w), np.uint8)
        sem[h // 2:] = 3
        sem[:4, :4] = 0
        inst = np.zeros((h, w, 3), np.uint8)
        for k, (cls, sem_label, y0, x0) in enumerate([(4, 13, 6, 6), (4, 13, 20, 30),
                                                      (9, 21, h // 2 + 2, 10)]):
            inst[y0:y0 + 12, x0:x0 + 14] = (cls, k + 1, 0)
            sem[y0:y0 + 12, x0:x0 + 14] = sem_label
        stem = f'ADE_val_{i + 1:08d}'
        img = (rng.random((h, w, 3)) * 60 + sem[..., None] * 10).astype(np.uint8)
        Image.fromarray(img).save(osp.join(root, 'images', 'validation', stem + '.jpg'))
        Image.fromarray(sem).save(osp.join(root, 'annotations', 'validation', stem + '.png'))
        Image.fromarray(inst).save(osp.join(root, 'annotations_instance', 'validation',
                                            stem + '.png'))
    return root
