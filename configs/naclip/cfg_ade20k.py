# NACLIP (PAMR on), ADE20K (150 classes).
_base_ = [
    '../_base_/models/naclip_vit_b16.py',
    '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/sclip/ade20k.txt'),
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_336}}))
