# DenseVLM EVA02-B/16, Cityscapes (19 classes), short side 560.
_base_ = [
    '../_base_/models/densevlm_eva02_b16.py',
    '../_base_/datasets/city_scapes.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/proxyclip/city_scapes.txt'),
)
test_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(4096, 560), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]))
