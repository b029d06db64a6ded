# ProxyCLIP (DINO ViT-B/8 proxy), Cityscapes (19 classes).
_base_ = [
    '../_base_/models/proxyclip_vit_b16.py',
    '../_base_/datasets/city_scapes.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/proxyclip/city_scapes.txt'),
    slide_crop=224, slide_stride=112,
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_448}}))
