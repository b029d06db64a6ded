"""PASCAL VOC without its background class (VOC20)."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS


@DATASETS.register_module()
class PascalVOC20Dataset(BaseSegDataset):
    """The 20 object classes of PASCAL VOC 2012, background ignored.

    Same files as ``PascalVOCDataset`` (``JPEGImages/*.jpg``,
    ``SegmentationClass/*.png``, ``ImageSets/Segmentation/val.txt``); label 0
    (background) becomes 255 (ignored) and the object labels shift down by one.
    """
    METAINFO = dict(
        classes=('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
                 'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
                 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor'),
        palette=[[128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128],
                 [0, 128, 128], [128, 128, 128], [64, 0, 0], [192, 0, 0], [64, 128, 0],
                 [192, 128, 0], [64, 0, 128], [192, 0, 128], [64, 128, 128], [192, 128, 128],
                 [0, 64, 0], [128, 64, 0], [0, 192, 0], [128, 192, 0], [0, 64, 128]])

    def __init__(self, ann_file: str = '', img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = True, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, ann_file=ann_file, **kwargs)
