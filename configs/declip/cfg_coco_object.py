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
test_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageWithPillowFallback'),  # OpenCV, else Pillow (GIF, ...)
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotationsKeepShape'),  # label maps of any size, 1x1 included
    dict(type='PackSegInputs'),
]))
