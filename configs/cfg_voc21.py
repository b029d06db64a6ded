# ClearCLIP protocol, OpenAI CLIP ViT-B/16, PASCAL VOC 2012 with background (21 classes).
_base_ = [
    './_base_/models/clearclip_vit_b16.py',
    './_base_/datasets/voc21.py',
    './_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/class_names/voc21.txt'),
    prob_thd=0.5,
)
