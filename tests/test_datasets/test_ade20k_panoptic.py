"""datasets/converters/ade20k_panoptic.py and the ADE20K panoptic region dataset."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from declip_mmseg.datasets import ADE20KPanopticRegionDataset
from declip_mmseg.datasets.converters.ade20k_panoptic import (
    ADE20K_THING_IDS,
    convert_ade20k_panoptic,
    convert_image,
)


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


@pytest.fixture(scope='module')
def ade_root(tmp_path_factory):
    root = make_raw_ade(str(tmp_path_factory.mktemp('ade') / 'ADEChallengeData2016'))
    convert_ade20k_panoptic(root, log=None)
    return root


def test_converter(ade_root):
    with open(osp.join(ade_root, 'ade20k_panoptic_val.json')) as f:
        data = json.load(f)
    cats = data['categories']
    assert len(cats) == 150 and [c['id'] for c in cats] == list(range(150))
    assert sum(c['isthing'] for c in cats) == 100 == len(ADE20K_THING_IDS)
    assert cats[12]['name'] == 'person' and cats[12]['isthing'] == 1
    assert cats[0]['isthing'] == 0 and cats[2]['isthing'] == 0            # wall, sky
    assert [img['id'] for img in data['images']] == ['ADE_val_00000001', 'ADE_val_00000002']
    ann = data['annotations'][0]
    assert ann['file_name'] == 'ADE_val_00000001.png'
    segs = ann['segments_info']
    assert [s['category_id'] for s in segs] == [0, 2, 12, 12, 20]           # stuff, then things
    png = np.asarray(Image.open(osp.join(ade_root, 'ade20k_panoptic_val', ann['file_name'])))
    ids = png[..., 0].astype(int) + 256 * png[..., 1] + 65536 * png[..., 2]
    assert ids[0, 0] == 0 and ids[10, 10] == segs[2]['id']                # void; person on wall
    person = segs[2]
    assert person['bbox'] == [6, 6, 14, 12] and person['area'] == 12 * 14
    wall = segs[0]
    assert wall['area'] == int((ids == wall['id']).sum())


def test_converter_rejects_mixed_instance():
    sem = np.ones((8, 8), np.uint8)
    inst = np.zeros((8, 8, 3), np.uint8)
    inst[:2, :2] = (4, 1, 0)
    inst[2:4, :2] = (8, 1, 0)
    with pytest.raises(ValueError, match='instance 1 has instance classes'):
        convert_image(sem, inst)


def test_ade_dataset(ade_root, tmp_path):
    ds = ADE20KPanopticRegionDataset(data_root=ade_root, image_size=64, patch_size=8)
    assert len(ds.metainfo['classes']) == 150 and ds.metainfo['classes'][12] == 'person'
    s = ds[0]['data_samples']
    assert s['labels'].tolist() == [0, 2, 12, 12, 20]
    assert s['is_thing'].tolist() == [False, False, True, True, True]
    assert s['masks'].shape == (5, 8, 8)
    # image 0: h, w = 48, 72
    scale = 64 / 72
    torch.testing.assert_close(s['boxes'][2], torch.tensor([6, 6, 20, 18.]) * scale / 64)
    with pytest.raises(FileNotFoundError, match='prepare_ade20k_panoptic.py'):
        ADE20KPanopticRegionDataset(data_root=str(tmp_path), image_size=64, patch_size=8)
