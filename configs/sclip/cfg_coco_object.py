# SCLIP, COCO-Object (80 things + background).
_base_ = [
    '../_base_/models/sclip_vit_b16.py',
    '../_base_/datasets/coco_object.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/sclip/coco_object.txt',
                         allow_duplicate_names=True),  # 'bed': background and class
    logit_scale=50.0, prob_thd=0.1,
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_336}}))
