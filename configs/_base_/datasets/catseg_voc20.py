# PASCAL VOC 2012 val, 20 classes, background ignored (prepare_voc.py)
# Class lines as CAT-Seg's datasets/*.json (synonyms after ", "); the same list as
# configs/class_names/catseg/voc20.txt.
_base_ = ['./_catseg_eval.py']
class_names = [
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
]
test_dataloader = dict(
    dataset=dict(
        data_root='data/VOCdevkit/VOC2012',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='annotations_detectron2/val'),
        seg_map_suffix='.png', ignore_index=255,
        metainfo=dict(classes=tuple(class_names))))
catseg_ignore_index = 255  # for the evaluator of the configs
