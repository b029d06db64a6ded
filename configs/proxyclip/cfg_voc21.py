# ProxyCLIP (DINO ViT-B/8 proxy), PASCAL VOC 2012 with background (21 classes).
_base_ = [
    '../_base_/models/proxyclip_vit_b16.py',
    '../_base_/datasets/voc21.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/proxyclip/voc21.txt'),
    prob_thd=0.2,
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_336}}))
