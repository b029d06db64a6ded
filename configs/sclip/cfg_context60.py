# SCLIP, PASCAL Context with background (60 classes).
_base_ = [
    '../_base_/models/sclip_vit_b16.py',
    '../_base_/datasets/context60.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/sclip/context60.txt'),
    logit_scale=50.0, prob_thd=0.1,
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_336}}))
