# CAT-Seg, OpenAI ViT-B/16 on ADE-847, CAT-Seg's evaluation protocol (slide, pooling 1).
# Paper mIoU: 12.0.
_base_ = [
    '../_base_/models/catseg_vit_b16.py',
    '../_base_/datasets/catseg_ade847.py',
    '../_base_/default_runtime.py',
]
model = dict(text_classifier=dict(class_names={{_base_.class_names}}))
test_evaluator = dict(ignore_index={{_base_.catseg_ignore_index}})
