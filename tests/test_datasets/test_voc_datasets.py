"""VOC datasets: missing listed files and empty image folders are named."""
import os
import os.path as osp

import pytest

from declip_mmseg.testing.synthetic_data import make_voc


# -- datasets -----------------------------------------------------------------------------------
def voc_cfg(root):
    return dict(type='PascalVOCDataset', data_root=root,
                data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                ann_file='ImageSets/Segmentation/val.txt')


def test_listed_files_missing_on_disk_are_all_named(tmp_path):
    from declip_mmseg.apis.checks import check_test_dataset
    root = make_voc(str(tmp_path / 'voc'), n=4)
    os.remove(osp.join(root, 'JPEGImages', '2007_000001.jpg'))
    os.remove(osp.join(root, 'JPEGImages', '2007_000003.jpg'))
    os.remove(osp.join(root, 'SegmentationClass', '2007_000002.png'))
    with pytest.raises(FileNotFoundError) as err:
        check_test_dataset(voc_cfg(root))
    msg = str(err.value)
    assert '2 of 4 images' in msg and '2007_000001.jpg' in msg and '2007_000003.jpg' in msg
    assert '1 of 4 label maps' in msg and '2007_000002.png' in msg and 'val.txt' in msg


def test_split_file_with_empty_image_folder(tmp_path):
    from declip_mmseg.apis.checks import check_test_dataset
    root = make_voc(str(tmp_path / 'voc'), n=3)
    for name in os.listdir(osp.join(root, 'JPEGImages')):
        os.remove(osp.join(root, 'JPEGImages', name))
    with pytest.raises(FileNotFoundError, match=r'none of the 3 images .*holds 0 files'):
        check_test_dataset(voc_cfg(root))
