"""CAT-Seg's evaluation layouts of ADE20K-full (847 classes) and PASCAL Context full (459).

``convert_ade20k_full(root)``: ``root`` = ``ADE20K_2021_17_01`` (the ADE20K release with
``images/ADE/validation/**/ADE_val_*.jpg`` and their ``*_seg.png``). For every validation image
(file name's second ``_`` field ``val``): object class = ``floor(R / 10) * 256 + G`` of the
``_seg.png``, mapped to the 847 trainIds (:data:`ADE847_OBJECT_IDS`; other ids -> 65535); image
and label resized so that the short side is 512 when it is larger (image bilinear, label
nearest); written as ``images_detectron2/validation/<name>.jpg`` and uint16 TIFF
``annotations_detectron2/validation/<name>.tif`` (CAT-Seg's ``prepare_ade20k_full.py``; the
images are found by walking ``images/`` instead of unpickling ``index_ade20k.pkl``).

``convert_pascal_context_459(root, val_list)``: ``root`` = ``VOCdevkit/VOC2010`` with
``trainval/<id>.mat`` (the 459-class release, key ``LabelMap``); for the ids of ``val_list``
(CAT-Seg's ``pascalcontext_val.txt``, 5,104 ids) writes ``LabelMap - 1`` (0-458) as TIFF
``annotations_detectron2/pc459_val/<id>.tif`` (``prepare_pascal_context_459.py``); a label map
with a 0 (unlabelled) pixel is an error, as there.
"""
import os
import os.path as osp
from typing import Callable, Dict, Optional

import cv2
import numpy as np
from PIL import Image

from ...fileio import safe_write
from .ade847_ids import ADE847_OBJECT_IDS

ADE847_IGNORE = 65535
ADE847_MAX_SHORT_SIDE = 512


def ade_object_mask(seg_png: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 ``*_seg.png`` -> (H, W) int32 ADE object class ids."""
    return (seg_png[..., 0] // 10).astype(np.int32) * 256 + seg_png[..., 1].astype(np.int32)


def ade847_train_ids(objects: np.ndarray) -> np.ndarray:
    """ADE object ids -> uint16 trainIds (0-846), 65535 for ids outside the table."""
    lut = {obj: train for train, obj in enumerate(ADE847_OBJECT_IDS)}
    out = np.full(objects.shape, ADE847_IGNORE, dtype=np.uint16)
    for obj in np.unique(objects):
        if int(obj) in lut:
            out[objects == obj] = lut[int(obj)]
    return out


def short_side_resize(h: int, w: int, max_short: int = ADE847_MAX_SHORT_SIDE):
    """(new h, new w) with the short side at ``max_short`` when it is larger; None otherwise."""
    if w >= h > max_short:
        return max_short, round(w / float(h) * max_short)
    if h >= w > max_short:
        return round(h / float(w) * max_short), max_short
    return None


def _save_image(array: np.ndarray, path: str, fmt: str) -> None:
    with safe_write(path) as tmp:
        Image.fromarray(array).save(tmp, format=fmt)


def convert_ade20k_full(root: str, log: Optional[Callable[[str], None]] = print) -> Dict[str, int]:
    """Write CAT-Seg's ADE-847 validation layout under ``root``; returns counts."""
    images_root = osp.join(root, 'images')
    if not osp.isdir(images_root):
        raise FileNotFoundError(f"'{images_root}' does not exist: pass the ADE20K_2021_17_01 folder "
                                '(with images/ADE/validation/...)')
    img_out = osp.join(root, 'images_detectron2', 'validation')
    lab_out = osp.join(root, 'annotations_detectron2', 'validation')
    os.makedirs(img_out, exist_ok=True)
    os.makedirs(lab_out, exist_ok=True)
    done = 0
    for folder, _, files in sorted(os.walk(images_root)):
        for name in sorted(files):
            parts = name.split('_')
            if not name.endswith('.jpg') or len(parts) < 2 or parts[1] != 'val':
                continue
            seg_path = osp.join(folder, name[:-len('.jpg')] + '_seg.png')
            if not osp.isfile(seg_path):
                raise FileNotFoundError(f"'{seg_path}' is missing (the class mask of {name})")
            img = np.asarray(Image.open(osp.join(folder, name)).convert('RGB'))
            with Image.open(seg_path) as seg:
                objects = ade_object_mask(np.asarray(seg.convert('RGB')))
            size = short_side_resize(*img.shape[:2])
            if size is not None:
                img = cv2.resize(img, size[::-1], interpolation=cv2.INTER_LINEAR)
                objects = cv2.resize(objects, size[::-1], interpolation=cv2.INTER_NEAREST)
            _save_image(img, osp.join(img_out, name), 'JPEG')
            _save_image(ade847_train_ids(objects), osp.join(lab_out, name[:-4] + '.tif'), 'TIFF')
            done += 1
    if done == 0:
        raise FileNotFoundError(f"no ADE_val_*.jpg under '{images_root}'")
    if log:
        log(f'ADE-847: wrote {done} validation images and labels under {root}')
    return {'images': done}


def convert_pascal_context_459(root: str, val_list: str,
                               log: Optional[Callable[[str], None]] = print) -> Dict[str, int]:
    """Write CAT-Seg's PC-459 validation labels under ``root`` (VOC2010); returns counts."""
    from scipy.io import loadmat
    if not osp.isfile(val_list):
        raise FileNotFoundError(f"'{val_list}' does not exist: pass CAT-Seg's pascalcontext_val.txt")
    out_dir = osp.join(root, 'annotations_detectron2', 'pc459_val')
    os.makedirs(out_dir, exist_ok=True)
    ids = [line.strip() for line in open(val_list) if line.strip()]
    done, missing = 0, 0
    for file_id in ids:
        mat = osp.join(root, 'trainval', f'{file_id}.mat')
        if not osp.isfile(mat):
            missing += 1  # skipped, as the reference does
            continue
        label = loadmat(mat)['LabelMap']
        if label.min() < 1:
            raise ValueError(f"'{mat}': LabelMap has unlabelled (0) pixels; PC-459 expects 1-459")
        _save_image((label - 1).astype(np.uint16), osp.join(out_dir, f'{file_id}.tif'), 'TIFF')
        done += 1
    if log:
        log(f'PC-459: wrote {done} labels to {out_dir} ({missing} ids without a .mat skipped)')
    return {'labels': done, 'missing': missing}
