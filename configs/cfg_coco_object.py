# ClearCLIP protocol, OpenAI CLIP ViT-B/16, COCO-Object (80 things + background).
_base_ = [
    './_base_/models/clearclip_vit_b16.py',
    './_base_/datasets/coco_object.py',
    './_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/class_names/coco_object.txt'),
    prob_thd=0.4,
)
