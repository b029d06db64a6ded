# ProxyCLIP (DINO ViT-B/8 proxy), PASCAL Context with background (60 classes).
_base_ = [
    '../_base_/models/proxyclip_vit_b16.py',
    '../_base_/datasets/context60.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/proxyclip/context60.txt'),
    prob_thd=0.15,
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_336}}))
