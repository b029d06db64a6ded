"""datasets/converters/coco_object.py through datasets/cvt_coco_object.py."""
import os.path as osp

import numpy as np
from PIL import Image

from declip_mmseg.testing.synthetic_data import make_coco_stuff


def test_coco_object_conversion(tmp_path, run_tool):
    from declip_mmseg.datasets.converters.coco_object import RAW_TO_OBJECT
    root = make_coco_stuff(str(tmp_path / 'coco'), n=2)
    proc = run_tool('datasets/cvt_coco_object', [root, '--splits', 'val2017'])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    for stem in ('000000000139', '000000000285'):
        raw = np.array(Image.open(osp.join(root, 'annotations/val2017', f'{stem}.png')))
        obj = np.array(Image.open(osp.join(root, 'annotations/val2017',
                                           f'{stem}_instanceTrainIds.png')))
        assert obj.shape == raw.shape and obj.max() <= 80
        assert np.array_equal(obj, np.vectorize(RAW_TO_OBJECT.get)(raw))
    assert RAW_TO_OBJECT[0] == 1 and RAW_TO_OBJECT[90 - 1] == 80 and RAW_TO_OBJECT[92] == 0
    assert RAW_TO_OBJECT[255] == 0
    assert open(osp.join(root, 'val2017_object.txt')).read().split() == ['000000000139',
                                                                          '000000000285']
    proc = run_tool('datasets/cvt_coco_object', [str(tmp_path)])
    assert proc.returncode != 0 and 'annotations/val2017' in proc.stderr
