"""datasets/grid_distill.py: grid choices and dataset items for DeCLIP and DenseVLM."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from declip_mmseg.datasets.grid_distill import GridDistillDataset, grid_boxes, grid_choices
from declip_mmseg.testing.synthetic_data import make_coco, make_images


def small_dataset(root, **kw):
    args = dict(data_root=root, img_dir='train2017', ann_file='annotations/instances_train2017.json',
                image_size=64, crop_size=32, student_patch=8, vfm_patch=14, max_boxes=6)
    args.update(kw)
    return GridDistillDataset(**args)


# -- data --------------------------------------------------------------------------------
def test_grid_choice_set():
    pairs = grid_choices(6)
    assert len(pairs) == 24 and pairs[0] == (1, 1) and (6, 3) in pairs and (2, 5) not in pairs
    boxes = grid_boxes(2, 3)
    assert boxes.shape == (6, 4) and np.allclose(boxes[4], [1 / 3, 0.5, 2 / 3, 1.0])


def test_grid_dataset_item(tmp_path):
    ds = small_dataset(make_coco(str(tmp_path)))
    item = ds[1]
    assert item['inputs'].shape == (3, 64, 64)
    s = item['data_samples']
    assert s['boxes'].shape == (6, 5) and s['crops'].shape == (6, 3, 32, 32)
    assert s['vfm_inputs'].shape == (3, 112, 112)          # 64 / 8 * 14
    valid = s['boxes'][:, 4] > 0.5
    assert valid.any()
    h, w = 49, 65                                          # image 1 of make_images
    scale = 64 / max(h, w)
    assert (s['boxes'][valid, 2] <= w * scale / 64 + 1e-6).all()  # inside the unpadded area
    assert (s['crops'][~valid] == 0).all()
    again = ds[1]
    assert torch.equal(again['data_samples']['boxes'], s['boxes'])  # (seed, epoch, index) fixed
    grids = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        grids.add(int((ds[1]['data_samples']['boxes'][:, 4] > 0.5).sum()))
    assert len(grids) > 1                                   # a new grid draw every epoch


def test_unreadable_and_tiny_images_are_skipped(tmp_path, caplog):
    root = make_coco(str(tmp_path), n=3)
    open(osp.join(root, 'train2017', '000000000000.jpg'), 'wb').write(b'not an image')
    Image.new('RGB', (5, 30)).save(osp.join(root, 'train2017', '000000000001.jpg'))
    ds = small_dataset(root)
    item = ds[0]
    assert item['inputs'].shape == (3, 64, 64)
    item = ds[1]
    assert item['inputs'].shape == (3, 64, 64)


def test_image_folder_and_errors(tmp_path):
    make_images(str(tmp_path / 'imgs' / 'sub'), n=2)
    ds = GridDistillDataset(img_dir=str(tmp_path / 'imgs'), image_size=64, crop_size=32,
                            student_patch=8)
    assert len(ds) == 2
    with pytest.raises(FileNotFoundError, match='instances_train2017.json'):
        GridDistillDataset(img_dir=str(tmp_path), ann_file=str(tmp_path / 'instances_train2017.json'))
    os.makedirs(tmp_path / 'empty')
    with pytest.raises(RuntimeError, match='no images found'):
        GridDistillDataset(img_dir=str(tmp_path / 'empty'))


def batch(root, n=2):
    from mmengine.dataset import default_collate
    ds = GridDistillDataset(data_root=root, img_dir='train2017',
                            ann_file='annotations/instances_train2017.json', image_size=64,
                            student_patch=8, grid_style='densevlm', max_boxes=36,
                            with_crops=False, with_vfm_view=False)
    return default_collate([ds[i] for i in range(n)])


def test_densevlm_grid():
    pairs = grid_choices(6, 'densevlm')
    assert len(pairs) == 17 and pairs[0] == (2, 2) and pairs[-1] == (6, 6)
    assert (4, 3) in pairs and (2, 1) not in pairs and (3, 2) not in pairs
    assert min(m * n for m, n in pairs) == 4 and max(m * n for m, n in pairs) == 36


def test_grid_dataset_densevlm_items(tmp_path):
    root = make_coco(str(tmp_path))
    item = batch(root, 1)
    s = item['data_samples']
    assert set(s) == {'boxes'} and s['boxes'].shape == (1, 36, 5)
    valid = s['boxes'][0, :, 4] > 0.5
    n = int(valid.sum())
    assert n in {m * k for m, k in grid_choices(6, 'densevlm')}   # every cell kept
    h, w = 40, 70                                                   # image 0 of make_images
    scale = 64 / max(h, w)
    b = s['boxes'][0, valid]
    assert torch.isclose(b[:, 2].max(), torch.tensor(w * scale / 64), atol=1e-5)
    assert torch.isclose(b[:, 3].max(), torch.tensor(h * scale / 64), atol=1e-5)  # real image
