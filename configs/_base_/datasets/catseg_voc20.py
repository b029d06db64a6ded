# PASCAL VOC 2012 val, 20 classes, background ignored (prepare_voc.py)
# Class lines as CAT-Seg's datasets/*.json (synonyms after ", "); the same list as
# configs/class_names/catseg/voc20.txt.
_base_ = ['./_pipelines.py']
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
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='BaseSegDataset',
        data_root='data/VOCdevkit/VOC2012',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='annotations_detectron2/val'),
        img_suffix='.jpg', seg_map_suffix='.png', ignore_index=255,
        metainfo=dict(classes=tuple(class_names)),
        pipeline={{_base_.catseg_test}}))
test_pipeline = {{_base_.catseg_demo}}  # tools/demo.py, the web page: no labels
catseg_ignore_index = 255  # for the evaluator of the configs
