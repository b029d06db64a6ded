# NACLIP (PAMR on), PASCAL Context with background (60 classes).
_base_ = [
    '../_base_/models/naclip_vit_b16.py',
    '../_base_/datasets/context60.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/sclip/context60.txt'),
    prob_thd=0.1,
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_336}}))
