"""COCO-Stuff164k label conversions (used by ``datasets/cvt_coco_object.py``).

The raw COCO-Stuff164k maps (``stuffthingmaps_trainval2017``) store COCO
category ids: things 0-90 (with gaps), stuff 91-181, 255 unlabeled.
"""
import os
import os.path as osp
from functools import partial
from glob import glob
from multiprocessing import Pool
from typing import List, Optional

import numpy as np
from PIL import Image

_THING_IDS = [i for i in range(91) if i not in (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)]
_STUFF_IDS = list(range(91, 182))
# raw id -> the 171 training ids of mmseg's COCO-Stuff164k (things 0-79, stuff 80-170)
STUFF164K_RAW_TO_TRAIN = {raw: train for train, raw in enumerate(_THING_IDS + _STUFF_IDS)}
STUFF164K_RAW_TO_TRAIN[255] = 255
# raw id -> COCO-Object: background 0 (all stuff and unlabeled pixels), things 1-80
RAW_TO_OBJECT = {raw: (train + 1 if raw in _THING_IDS else 0)
                 for raw, train in STUFF164K_RAW_TO_TRAIN.items()}

OBJECT_SUFFIX = '_instanceTrainIds.png'


def _lookup(table: dict) -> np.ndarray:
    lut = np.full(256, 255, np.uint8)
    for raw, value in table.items():
        lut[raw] = value
    return lut


_OBJECT_LUT = _lookup(RAW_TO_OBJECT)


def raw_to_object(mask: np.ndarray) -> np.ndarray:
    """Raw COCO-Stuff ids (H, W) uint8 -> COCO-Object labels 0-80 (H, W) uint8.

    Ids that are no COCO category (never in real files) map to 255, ignored.
    """
    return _OBJECT_LUT[mask]


def _convert_one(src: str, out_dir: str) -> str:
    stem = osp.splitext(osp.basename(src))[0]
    try:
        mask = np.array(Image.open(src))
    except Exception as err:  # noqa: BLE001
        raise RuntimeError(f'cannot read COCO-Stuff label map {src!r}: {err}') from err
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise RuntimeError(f'{src!r} is not a single-channel 8-bit label map')
    Image.fromarray(raw_to_object(mask)).save(osp.join(out_dir, stem + OBJECT_SUFFIX))
    return stem


def raw_label_files(coco_root: str, split: str) -> List[str]:
    """Raw maps ``annotations/<split>/<id>.png`` (converted ``*TrainIds.png`` excluded)."""
    files = glob(osp.join(coco_root, 'annotations', split, '*.png'))
    return sorted(f for f in files if 'TrainIds' not in osp.basename(f))


def convert_coco_object(coco_root: str, out_root: Optional[str] = None,
                        splits=('val2017', 'train2017'), nproc: int = 1) -> dict:
    """Write ``annotations/<split>/<id>_instanceTrainIds.png`` under ``out_root``
    and a list ``<split>_object.txt`` of the converted ids; returns counts.

    Splits whose raw folder is absent are skipped; a split folder without raw
    maps is an error (probably the wrong folder).
    """
    out_root = out_root or coco_root
    counts = {}
    for split in splits:
        if not osp.isdir(osp.join(coco_root, 'annotations', split)):
            continue
        files = raw_label_files(coco_root, split)
        if not files:
            raise FileNotFoundError(
                f'no raw COCO-Stuff label maps (<id>.png) in '
                f'{osp.join(coco_root, "annotations", split)!r}; unpack '
                'stuffthingmaps_trainval2017.zip there first')
        out_dir = osp.join(out_root, 'annotations', split)
        os.makedirs(out_dir, exist_ok=True)
        work = partial(_convert_one, out_dir=out_dir)
        if nproc > 1:
            with Pool(nproc) as pool:
                stems = pool.map(work, files, chunksize=64)
        else:
            stems = [work(f) for f in files]
        with open(osp.join(out_root, f'{split}_object.txt'), 'w') as f:
            f.write('\n'.join(stems) + '\n')
        counts[split] = len(stems)
    if not counts:
        raise FileNotFoundError(
            f'{coco_root!r} has no annotations/val2017 or annotations/train2017 folder; '
            'pass the COCO-Stuff164k root (the folder holding images/ and annotations/)')
    return counts
