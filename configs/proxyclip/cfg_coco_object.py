# ProxyCLIP (DINO ViT-B/8 proxy), COCO-Object (80 things + background).
_base_ = [
    '../_base_/models/proxyclip_vit_b16.py',
    '../_base_/datasets/coco_object.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/proxyclip/coco_object_official.txt',
                         allow_duplicate_names=True),  # 'bed': background and class
    prob_thd=0.25,
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_336}}))
