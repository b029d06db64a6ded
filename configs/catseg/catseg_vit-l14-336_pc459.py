# CAT-Seg, OpenAI ViT-L/14@336 on PASCAL Context 459, CAT-Seg's evaluation protocol (slide, pooling 1).
# Paper mIoU: 23.8.
_base_ = [
    '../_base_/models/catseg_vit_l14_336.py',
    '../_base_/datasets/catseg_pc459.py',
    '../_base_/default_runtime.py',
]
model = dict(text_classifier=dict(class_names={{_base_.class_names}}))
test_evaluator = dict(ignore_index={{_base_.catseg_ignore_index}})
