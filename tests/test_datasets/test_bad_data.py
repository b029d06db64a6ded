"""Bad data: split files, label maps without labels, EXIF / 16-bit photos read the same by
training and testing, symlinked image folders, converters given nothing."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from declip_mmseg.testing.synthetic_data import make_images, make_voc


# -- split files ----------------------------------------------------------------------------
def voc_cfg(root):
    return dict(type='PascalVOCDataset', data_root=root, ann_file='ImageSets/Segmentation/val.txt',
                data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'))


def test_split_file_with_blank_lines_or_repeated_ids_is_refused(tmp_path):
    from declip_mmseg.apis.checks import checked_dataset
    root = make_voc(str(tmp_path / 'VOC2012'))
    split = osp.join(root, 'ImageSets/Segmentation/val.txt')
    assert len(checked_dataset(voc_cfg(root))[1]) == 3
    with open(split, 'w') as f:
        f.write('2007_000000\n2007_000001\n\n2007_000000\n2007_000002\n')
    with pytest.raises(ValueError) as err:
        checked_dataset(voc_cfg(root))
    msg = str(err.value)
    assert split in msg and 'blank line(s) (line 3)' in msg
    assert "'2007_000000' on lines 1, 4" in msg and 'Delete those lines' in msg


# -- label maps without a labelled pixel -------------------------------------------------------
def run_metric(labels):
    """PerClassIoUMetric over (H, W) label maps, predicting class 0 everywhere."""
    from declip_mmseg.evaluation.metrics.per_class_iou import PerClassIoUMetric
    metric = PerClassIoUMetric()
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))
    for i, label in enumerate(labels):
        label = torch.as_tensor(label)[None]
        metric.process({}, [dict(pred_sem_seg=dict(data=torch.zeros_like(label)),
                                 gt_sem_seg=dict(data=label), seg_map_path=f'map{i}.png')])
    return metric.compute_metrics(metric.results)


def test_label_maps_without_a_labelled_pixel(monkeypatch):
    import declip_mmseg.evaluation.metrics.per_class_iou as module
    warnings = []
    monkeypatch.setattr(module, 'print_log', lambda msg, **kw: warnings.append(msg))
    empty, labelled = np.full((4, 5), 255), np.zeros((4, 5), np.int64)
    # every map empty: the scores would mean nothing -> error naming a file and the checks
    with pytest.raises(ValueError, match=r"none of the 2 label maps holds a labelled pixel.*"
                       r"'map0.png'.*reduce_zero_label"):
        run_metric([empty, empty])
    # some empty: a warning naming one; the scores are those of the labelled maps
    metrics = run_metric([labelled, empty])
    assert metrics['aAcc'] == 100.0
    assert len(warnings) == 1 and "1 of 2 label maps hold no labelled pixel" in warnings[0]
    assert "'map1.png'" in warnings[0]


# -- one reader for training and testing -------------------------------------------------------
def read_for_test(path):
    """The test pipeline's image (RGB)."""
    from declip_mmseg.datasets.transforms import LoadImageWithPillowFallback
    return LoadImageWithPillowFallback()(dict(img_path=path))['img'][..., ::-1]


def read_for_training(path):
    """The distillation dataset's image (RGB)."""
    from declip_mmseg.datasets.grid_distill import GridDistillDataset
    reader = GridDistillDataset.__new__(GridDistillDataset)
    reader.min_size = 1
    return np.asarray(reader.read(path))


def test_exif_rotated_photo_is_read_upright_by_training_and_testing(tmp_path):
    arr = np.zeros((20, 30, 3), np.uint8)  # stored 30 wide, 20 high; red left half
    arr[:, :15, 0] = 255
    image = Image.fromarray(arr)
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    path = str(tmp_path / 'rotated.jpg')
    image.save(path, exif=exif, quality=100)
    test, train = read_for_test(path), read_for_training(path)
    assert test.shape == train.shape == (30, 20, 3)  # upright: 20 wide, 30 high
    assert np.abs(test.astype(int) - train.astype(int)).max() <= 8
    assert train[:15, :, 0].mean() > 200 and train[15:, :, 0].mean() < 50  # red on top


def test_sixteen_bit_image_is_read_the_same_by_training_and_testing(tmp_path):
    grey = np.full((12, 16), 30000, np.uint16)
    grey[:, :8] = 5000
    path = str(tmp_path / 'grey16.png')
    Image.fromarray(grey).save(path)
    test, train = read_for_test(path), read_for_training(path)
    assert test.shape == train.shape == (12, 16, 3)
    assert np.array_equal(test, train)
    assert abs(int(train[0, 12, 0]) - 30000 // 256) <= 1 and abs(int(train[0, 0, 0]) - 5000 // 256) <= 1


# -- symlinked image folders ---------------------------------------------------------------------
def test_symlinked_image_folders_are_followed_once(tmp_path):
    from declip_mmseg.datasets.grid_distill import list_images
    make_images(str(tmp_path / 'images'), n=1)
    elsewhere = make_images(str(tmp_path / 'elsewhere' / 'more'), n=2, seed=1)
    os.symlink(tmp_path / 'elsewhere' / 'more', tmp_path / 'images' / 'more')
    os.symlink(tmp_path / 'images', tmp_path / 'images' / 'loop')  # a link back up: no cycle
    found = list_images(str(tmp_path / 'images'))
    assert len(found) == 3
    assert sorted(osp.basename(p) for p in found if '/more/' in p) == sorted(elsewhere)


# -- converters given nothing ------------------------------------------------------------------
def test_ade20k_panoptic_converter_refuses_a_folder_without_images(tmp_path):
    from declip_mmseg.datasets.converters import convert_ade20k_panoptic
    root = tmp_path / 'ADEChallengeData2016'
    for name in ('images', 'annotations', 'annotations_instance'):
        (root / name / 'validation').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match='no .jpg images in .*images/validation'):
        convert_ade20k_panoptic(str(root), log=None)
    assert not (root / 'ade20k_panoptic_val.json').exists()
