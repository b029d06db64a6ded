# CAT-Seg + DeCLIP EVA02-L/14-336 on ADE-150, CAT-Seg's evaluation protocol (slide, pooling 1).
# Paper mIoU: 40.7.
_base_ = [
    '../_base_/models/catseg_declip_eva02_l14.py',
    '../_base_/datasets/catseg_ade150.py',
    '../_base_/default_runtime.py',
]
model = dict(text_classifier=dict(class_names={{_base_.class_names}}))
test_evaluator = dict(ignore_index={{_base_.catseg_ignore_index}})
