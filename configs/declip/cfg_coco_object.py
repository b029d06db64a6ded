# DeCLIP EVA02-B/16, COCO-Object (80 things + background).
_base_ = [
    '../_base_/models/declip_eva02_b16.py',
    '../_base_/datasets/coco_object.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/proxyclip/coco_object.txt'),
    prob_thd=0.2,
)
# DeCLIP's COCO-Object resize keeps the long side at most 2048 (not 4096)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_448}}))
