# MaskCLIP (official: values, residual and FFN kept), COCO-Object (80 things + background).
_base_ = [
    '../_base_/models/maskclip_vit_b16.py',
    '../_base_/datasets/coco_object.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/maskclip/coco_object.txt'),
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_512}}))
