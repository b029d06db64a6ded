"""datasets/converters/ade20k_panoptic.py and the ADE20K panoptic region dataset."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from declip_mmseg.datasets import ADE20KPanopticRegionDataset
from declip_mmseg.datasets.converters.ade20k_panoptic import (
    ADE20K_THING_IDS,
    convert_image,
)


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
