# DeCLIP EVA02-B/16, Cityscapes (19 classes), short side 560.
_base_ = [
    '../_base_/models/declip_eva02_b16.py',
    '../_base_/datasets/city_scapes.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/proxyclip/city_scapes.txt'),
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.declip_560}}))
