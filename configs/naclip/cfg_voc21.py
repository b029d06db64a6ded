# NACLIP (PAMR on), PASCAL VOC 2012 with background (21 classes).
_base_ = [
    '../_base_/models/naclip_vit_b16.py',
    '../_base_/datasets/voc21.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/sclip/voc21.txt'),
    prob_thd=0.1, inference_mode='whole',
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_336}}))
