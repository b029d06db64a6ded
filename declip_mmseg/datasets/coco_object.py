"""COCO-Object: the 80 COCO thing classes plus background, from COCO-Stuff164k masks."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

COCO_THINGS = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
    'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
    'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
    'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich',
    'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch',
    'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote',
    'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book',
    'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush')


def _palette(n):
    """A fixed, distinct colour per label (black for the background)."""
    return [[0, 0, 0]] + [[(37 * i) % 256, (97 * i + 50) % 256, (151 * i + 100) % 256]
                          for i in range(1, n)]


@DATASETS.register_module()
class COCOObjectDataset(BaseSegDataset):
    """Label 0 is background (every stuff class and unlabeled pixel), 1-80 the things.

    Masks are ``annotations/val2017/<id>_instanceTrainIds.png`` as written by
    ``datasets/cvt_coco_object.py``; images ``images/val2017/<id>.jpg``.
    """
    METAINFO = dict(classes=('background',) + COCO_THINGS, palette=_palette(81))

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '_instanceTrainIds.png',
                 reduce_zero_label: bool = False, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)
