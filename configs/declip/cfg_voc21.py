# DeCLIP EVA02-B/16, PASCAL VOC 2012 with background (21 classes).
_base_ = [
    '../_base_/models/declip_eva02_b16.py',
    '../_base_/datasets/voc21.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/proxyclip/voc21.txt'),
    logit_scale=80.0,
    prob_thd=0.4,
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.declip_448}}))
