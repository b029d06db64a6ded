# MaskCLIP (official: values, residual and FFN kept), COCO-Stuff 164k (171 classes).
_base_ = [
    '../_base_/models/maskclip_vit_b16.py',
    '../_base_/datasets/coco_stuff164k.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/maskclip/coco_stuff.txt'),
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_512}}))
