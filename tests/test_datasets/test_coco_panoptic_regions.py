"""datasets/coco_panoptic_regions.py: region samples, limits and errors."""
import json
import os
import os.path as osp
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from declip_mmseg.datasets import COCOPanopticRegionDataset
from declip_mmseg.testing.synthetic_data import COCO_PANOPTIC_CATEGORIES as CATEGORIES
from declip_mmseg.testing.synthetic_data import COCO_PANOPTIC_NAMES as NAMES
from declip_mmseg.testing.synthetic_data import COCO_PANOPTIC_SIZES as SIZES
from declip_mmseg.testing.synthetic_data import make_coco_panoptic
from declip_mmseg.testing.tools import REPO

MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(3, 1, 1)


STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(3, 1, 1)


# deliberately not sorted by id: labels follow the sorted ids












@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('data') / 'coco')
    make_coco_panoptic(root)
    return root


def build_dataset(root, **kw):
    kw = dict(dict(data_root=root, image_size=64, patch_size=8, img_dir='val2017',
                   ann_file='annotations/panoptic_val2017.json',
                   seg_dir='annotations/panoptic_val2017'), **kw)
    return COCOPanopticRegionDataset(**kw)


# -- dataset -----------------------------------------------------------------
def test_dataset_samples(coco_root):
    data = json.load(open(osp.join(coco_root, 'annotations', 'panoptic_val2017.json')))
    ds = build_dataset(coco_root)
    assert len(ds) == 3
    assert ds.metainfo['classes'] == tuple(NAMES)
    assert ds.metainfo['is_thing'] == (True, True, True, False, False, False)
    label_of = {c['id']: NAMES.index(c['name']) for c in CATEGORIES}
    S, g = 64, 8
    for i, (h, w) in enumerate(SIZES):
        sample = ds[i]
        inputs, ds_ = sample['inputs'], sample['data_samples']
        assert inputs.shape == (3, S, S) and inputs.dtype == torch.float32
        assert ds_['img_path'].endswith(f'val2017/{139 + i:012d}.jpg')
        # the image: resized longest side, black padding, CLIP-normalized
        scale = S / max(h, w)
        nh, nw = round(h * scale), round(w * scale)
        img = Image.open(ds_['img_path']).convert('RGB').resize((nw, nh), Image.BICUBIC)
        ref = (torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255 - MEAN) / STD
        torch.testing.assert_close(inputs[:, :nh, :nw], ref, atol=1e-5, rtol=0)
        pad = (-MEAN / STD).expand(3, S, S)
        assert torch.allclose(inputs[:, nh:], pad[:, nh:])
        assert torch.allclose(inputs[:, :, nw:], pad[:, :, nw:])
        # the regions: the 2x2 thing is dropped, order kept
        png = np.asarray(Image.open(osp.join(coco_root, 'annotations', 'panoptic_val2017',
                                             f'{139 + i:012d}.png'))).astype(np.int64)
        segm = png[..., 0] + 256 * png[..., 1] + 65536 * png[..., 2]
        segs = data['annotations'][i]['segments_info'][:4]
        assert ds_['labels'].tolist() == [label_of[s['category_id']] for s in segs]
        assert ds_['is_thing'].tolist() == [False, False, True, True]
        expected = []
        for s in segs:
            if s['category_id'] in (1, 3, 18):
                x, y, bw, bh = s['bbox']
                expected.append([x, y, x + bw, y + bh])
            else:   # mask2box: max inclusive
                ys, xs = np.where(segm == s['id'])
                expected.append([xs.min(), ys.min(), xs.max(), ys.max()])
        expected = torch.tensor(expected, dtype=torch.float32) * scale / S
        torch.testing.assert_close(ds_['boxes'], expected)
        assert ds_['boxes'].max() <= 1 and ds_['boxes'].min() >= 0
        # the masks: float bicubic (no antialias) at the feature grid, padded, > 0
        assert ds_['masks'].shape == (4, g, g) and ds_['masks'].dtype == torch.bool
        gscale = g / max(h, w)
        gh, gw = round(h * gscale), round(w * gscale)
        full = torch.from_numpy(np.stack([segm == s['id'] for s in segs])).float()
        small = F.interpolate(full[:, None], size=(gh, gw), mode='bicubic',
                              align_corners=False)[:, 0]
        ref_masks = torch.zeros(4, g, g, dtype=torch.bool)
        ref_masks[:, :gh, :gw] = small > 0
        assert torch.equal(ds_['masks'], ref_masks)
        assert not ds_['masks'][:, gh:].any() and not ds_['masks'][:, :, gw:].any()


def test_dataset_max_regions_and_lazy_init(coco_root):
    ds = build_dataset(coco_root, max_regions=3)
    assert ds[0]['data_samples']['labels'].numel() == 3
    lazy = build_dataset(coco_root, lazy_init=True)
    assert len(lazy.metainfo['classes']) == 133       # the official names until the json is read
    assert len(lazy.load_data_list()) == 3


def test_dataset_errors(coco_root, tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json'):
        build_dataset(coco_root, ann_file='annotations/nope.json')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [')
    with pytest.raises(ValueError, match='bad.json'):
        build_dataset(coco_root, ann_file=str(bad))
    empty = tmp_path / 'empty.json'
    empty.write_text(json.dumps({'images': [], 'annotations': [], 'categories': CATEGORIES}))
    with pytest.raises(RuntimeError, match='empty.json'):
        build_dataset(coco_root, ann_file=str(empty))
    with pytest.raises(FileNotFoundError, match='no_images'):
        build_dataset(coco_root, img_dir='no_images')
    # a corrupt PNG and a missing image are reported with their paths
    root = str(tmp_path / 'coco')
    make_coco_panoptic(root)
    png = osp.join(root, 'annotations', 'panoptic_val2017', f'{139:012d}.png')
    with open(png, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + b'garbage' * 10)
    os.remove(osp.join(root, 'val2017', f'{140:012d}.jpg'))
    ds = build_dataset(root)
    with pytest.raises(ValueError, match=re.escape(png)):
        ds[0]
    with pytest.raises(FileNotFoundError, match=f'{140:012d}.jpg'):
        ds[1]


def test_coco_panoptic_class_file():
    from declip_mmseg.datasets import COCO_PANOPTIC_CLASSES
    from declip_mmseg.text import load_vocabulary
    vocab = load_vocabulary(osp.join(REPO, 'configs', 'class_names', 'coco_panoptic.txt'))
    assert vocab.num_classes == 133
    assert tuple(q for (q,) in vocab.classes) == COCO_PANOPTIC_CLASSES
    assert COCO_PANOPTIC_CLASSES[:2] == ('person', 'bicycle')
    assert COCO_PANOPTIC_CLASSES[79:81] == ('toothbrush', 'banner')
    assert COCO_PANOPTIC_CLASSES[-1] == 'rug-merged'
