"""datasets/region_clip.py: pseudo-label regions for RegionCLIP."""
import json
import os.path as osp

import pytest
import torch

from declip_mmseg.datasets import RegionCLIPDataset
from declip_mmseg.testing.synthetic_data import make_images

CATS = [{'id': 40, 'name': 'red thing'}, {'id': 7, 'name': 'blue thing'},
        {'id': 13, 'name': 'green thing'}]     # labels follow the sorted ids: 7, 13, 40


def make_pseudo(root, per_image=(3, 25, 0, 2)):
    """train2017 images and coco_pseudo_4764.json-style pseudo labels (the 3rd image has none)."""
    names = make_images(osp.join(root, 'train2017'), n=len(per_image))
    images = [{'id': 100 + i, 'file_name': n} for i, n in enumerate(names)]
    anns, k = [], 0
    for i, count in reversed(list(enumerate(per_image))):   # file order != image order
        for j in range(count):
            anns.append({'id': k, 'image_id': 100 + i, 'category_id': [40, 7, 13][j % 3],
                         'bbox': [1 + j % 5, 2 + j % 7, 10 + j, 8 + j % 4]})
            k += 1
    with open(osp.join(root, 'coco_pseudo_4764.json'), 'w') as f:
        json.dump({'images': images, 'annotations': anns, 'categories': CATS}, f)
    return root


def test_region_clip_dataset(tmp_path):
    root = make_pseudo(str(tmp_path))
    ds = RegionCLIPDataset(data_root=root, image_size=64)
    assert len(ds) == 3 and ds.metainfo['classes'] == ('blue thing', 'green thing', 'red thing')
    assert [osp.basename(p) for p in ds.paths] == ['000000000003.jpg', '000000000001.jpg',
                                                  '000000000000.jpg']   # first annotation order
    assert ds.max_boxes == 20
    item = ds[1]                                                        # 25 annotations
    rows = item['data_samples']['boxes']
    assert item['inputs'].shape == (3, 64, 64) and rows.shape == (20, 6)
    assert (rows[:, 5] == 1).all()                                      # the first 20
    # h, w = 49, 65                                                     # image 1
    scale = 64 / 65
    torch.testing.assert_close(rows[0, :4], torch.tensor([1, 2, 11, 10.]) * scale / 64)
    assert rows[:3, 4].tolist() == [2, 0, 1]                            # ids 40, 7, 13
    short = ds[0]['data_samples']['boxes']                              # 2 annotations
    assert short[:, 5].tolist() == [1, 1] + [0] * 18
    open(osp.join(root, 'train2017', '000000000003.jpg'), 'wb').write(b'broken')
    assert ds[0]['inputs'].shape == (3, 64, 64)                        # skipped, another drawn
    with pytest.raises(FileNotFoundError, match='coco_pseudo_4764.json'):
        RegionCLIPDataset(data_root=str(tmp_path / 'nowhere'))
