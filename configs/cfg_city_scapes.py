# ClearCLIP protocol, OpenAI CLIP ViT-B/16, Cityscapes (19 classes).
_base_ = [
    './_base_/models/clearclip_vit_b16.py',
    './_base_/datasets/city_scapes.py',
    './_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/class_names/city_scapes.txt'),
    slide_crop=224,
    slide_stride=224,
)
