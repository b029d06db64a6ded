# ClearCLIP protocol, OpenAI CLIP ViT-B/16, PASCAL Context without background (59 classes).
_base_ = [
    './_base_/models/clearclip_vit_b16.py',
    './_base_/datasets/context59.py',
    './_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/class_names/context59.txt'),
)
