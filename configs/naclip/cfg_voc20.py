# NACLIP (PAMR on), PASCAL VOC 2012 without background (20 classes).
_base_ = [
    '../_base_/models/naclip_vit_b16.py',
    '../_base_/datasets/voc20.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/sclip/voc20.txt'),
    inference_mode='whole',
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_336}}))
