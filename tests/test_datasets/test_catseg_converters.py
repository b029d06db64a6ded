"""CAT-Seg's ADE-847 and PC-459 converters on synthetic raw layouts."""
import os

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from declip_mmseg.datasets.converters import convert_ade20k_full, convert_pascal_context_459
from declip_mmseg.testing.catseg import ade_seg_png as seg_png


def test_ade20k_full(tmp_path):
    folder = tmp_path / 'images' / 'ADE' / 'validation' / 'abbey'
    folder.mkdir(parents=True)
    objects = np.full((600, 800), 2978, np.int64)  # wall -> trainId 0
    objects[:, 400:] = 312                          # building -> 1
    objects[500:, :] = 5                            # not among the 847 -> 65535
    Image.fromarray(np.full((600, 800, 3), 90, np.uint8)).save(folder / 'ADE_val_00000001.jpg')
    Image.fromarray(seg_png(objects)).save(folder / 'ADE_val_00000001_seg.png')
    small = np.full((100, 60), 312, np.int64)
    Image.fromarray(np.zeros((100, 60, 3), np.uint8)).save(folder / 'ADE_val_00000002.jpg')
    Image.fromarray(seg_png(small)).save(folder / 'ADE_val_00000002_seg.png')
    train = tmp_path / 'images' / 'ADE' / 'training' / 'abbey'
    train.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(train / 'ADE_train_00000001.jpg')

    assert convert_ade20k_full(str(tmp_path), log=None) == {'images': 2}
    label = np.array(Image.open(tmp_path / 'annotations_detectron2/validation/ADE_val_00000001.tif'))
    assert label.dtype == np.uint16 and label.shape == (512, 683)  # short side 600 -> 512
    assert label[10, 10] == 0 and label[10, 600] == 1 and label[-1, 0] == 65535
    image = Image.open(tmp_path / 'images_detectron2/validation/ADE_val_00000001.jpg')
    assert image.size == (683, 512)
    label2 = np.array(Image.open(tmp_path / 'annotations_detectron2/validation/ADE_val_00000002.tif'))
    assert label2.shape == (100, 60) and (label2 == 1).all()  # small images keep their size
    assert not os.path.exists(tmp_path / 'images_detectron2/validation/ADE_train_00000001.jpg')


def test_pascal_context_459(tmp_path):
    (tmp_path / 'trainval').mkdir()
    label = np.arange(1, 13, dtype=np.uint16).reshape(3, 4) * 38  # 38 ... 456
    savemat(tmp_path / 'trainval' / '2008_000001.mat', {'LabelMap': label})
    (tmp_path / 'val.txt').write_text('2008_000001\n2008_000002\n')
    counts = convert_pascal_context_459(str(tmp_path), str(tmp_path / 'val.txt'), log=None)
    assert counts == {'labels': 1, 'missing': 1}
    out = np.array(Image.open(tmp_path / 'annotations_detectron2/pc459_val/2008_000001.tif'))
    assert np.array_equal(out, label - 1)
    savemat(tmp_path / 'trainval' / '2008_000001.mat', {'LabelMap': label * 0})
    with pytest.raises(ValueError, match='unlabelled'):
        convert_pascal_context_459(str(tmp_path), str(tmp_path / 'val.txt'), log=None)
