# CAT-Seg, OpenAI ViT-B/16 on PASCAL Context 59, CAT-Seg's evaluation protocol (slide, pooling 1).
# Paper mIoU: 57.5.
_base_ = [
    '../_base_/models/catseg_vit_b16.py',
    '../_base_/datasets/catseg_pc59.py',
    '../_base_/default_runtime.py',
]
model = dict(text_classifier=dict(class_names={{_base_.class_names}}))
test_evaluator = dict(ignore_index={{_base_.catseg_ignore_index}})
