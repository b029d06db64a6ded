# ClearCLIP protocol, OpenAI CLIP ViT-B/16, ADE20K (150 classes).
_base_ = [
    './_base_/models/clearclip_vit_b16.py',
    './_base_/datasets/ade20k.py',
    './_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/class_names/ade20k.txt'),
)
