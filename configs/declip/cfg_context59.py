# DeCLIP EVA02-B/16, PASCAL Context without background (59 classes).
_base_ = [
    '../_base_/models/declip_eva02_b16.py',
    '../_base_/datasets/context59.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/proxyclip/context59.txt'),
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.declip_448}}))
