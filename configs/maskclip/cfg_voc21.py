# MaskCLIP (official: values, residual and FFN kept), PASCAL VOC 2012 with background (21 classes).
_base_ = [
    '../_base_/models/maskclip_vit_b16.py',
    '../_base_/datasets/voc21.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/maskclip/voc21.txt'),
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_512}}))
