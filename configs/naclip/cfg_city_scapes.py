# NACLIP (PAMR on), Cityscapes (19 classes).
_base_ = [
    '../_base_/models/naclip_vit_b16.py',
    '../_base_/datasets/city_scapes.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/sclip/city_scapes.txt'),
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_560}}))
