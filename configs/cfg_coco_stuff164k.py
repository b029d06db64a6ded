# ClearCLIP protocol, OpenAI CLIP ViT-B/16, COCO-Stuff164k (171 classes).
_base_ = [
    './_base_/models/clearclip_vit_b16.py',
    './_base_/datasets/coco_stuff164k.py',
    './_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/class_names/coco_stuff.txt'),
)
