# DeCLIP EVA02-B/16, COCO-Stuff164k (171 classes).
_base_ = [
    '../_base_/models/declip_eva02_b16.py',
    '../_base_/datasets/coco_stuff164k.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/proxyclip/coco_stuff.txt'),
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.declip_448}}))
