# ClearCLIP protocol, OpenAI CLIP ViT-B/16, PASCAL Context with background (60 classes).
_base_ = [
    './_base_/models/clearclip_vit_b16.py',
    './_base_/datasets/context60.py',
    './_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/class_names/context60.txt'),
    prob_thd=0.15,
)
