"""evaluation/metrics/per_class_iou.py: label values and label maps that do not fit."""
import numpy as np
import pytest
import torch


def sample(pred, label, name='2007_000000'):
    from mmengine.structures import PixelData
    return {'pred_sem_seg': PixelData(data=torch.as_tensor(pred)[None]).to_dict(),
            'gt_sem_seg': PixelData(data=torch.as_tensor(label)[None]).to_dict(),
            'img_path': f'JPEGImages/{name}.jpg', 'seg_map_path': f'SegmentationClass/{name}.png'}


def voc_metric():
    from declip_mmseg.evaluation import PerClassIoUMetric
    metric = PerClassIoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=[f'c{i}' for i in range(21)])
    return metric


def test_label_values_outside_the_classes_are_counted(capfd):
    from mmengine.logging import MMLogger
    MMLogger.get_instance('bad_labels_test', log_level='INFO')
    metric = voc_metric()
    label = np.zeros((6, 8), np.int64)
    label[0, :3] = 77
    label[1, :2] = 255  # the ignore index is fine
    metric.process({}, [sample(np.zeros((6, 8), np.int64), label, 'a'),
                        sample(np.zeros((6, 8), np.int64), np.zeros((6, 8), np.int64), 'b')])
    metric.compute_metrics(metric.results)
    out = capfd.readouterr()
    text = out.out + out.err
    assert '1 of 2 label maps hold 3 pixels' in text and 'values [77]' in text
    assert 'SegmentationClass/a.png' in text and text.count('label maps hold') == 1


def test_label_map_of_another_size_names_both_files():
    metric = voc_metric()
    with pytest.raises(ValueError) as err:
        metric.process({}, [sample(np.zeros((6, 8), np.int64), np.zeros((5, 8), np.int64))])
    msg = str(err.value)
    assert 'SegmentationClass/2007_000000.png' in msg and 'JPEGImages/2007_000000.jpg' in msg
    assert '8 x 5' in msg and '8 x 6' in msg


def test_colour_label_map_and_checkpoint_folder(tiny_clip, tmp_path):
    from declip_mmseg.clip import build_clip
    metric = voc_metric()
    from mmengine.structures import PixelData
    colour = sample(np.zeros((6, 8), np.int64), np.zeros((6, 8), np.int64))
    # what mmseg's PackSegInputs makes of an RGB label PNG: the (H, W, 3) array as is
    colour['gt_sem_seg'] = PixelData(data=torch.zeros(6, 8, 3, dtype=torch.long)).to_dict()
    with pytest.raises(ValueError, match='SegmentationClass/2007_000000.png.*colour image'):
        metric.process({}, [colour])
    (tmp_path / 'weights').mkdir()
    (tmp_path / 'weights' / 'ViT-B-16.pt').write_bytes(b'x')
    with pytest.raises(IsADirectoryError, match=r"weights' is a directory.*ViT-B-16.pt"):
        build_clip(tiny_clip[0], str(tmp_path / 'weights'))
