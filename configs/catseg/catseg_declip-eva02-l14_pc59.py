# CAT-Seg + DeCLIP EVA02-L/14-336 on PASCAL Context 59, CAT-Seg's evaluation protocol (slide, pooling 1).
# Paper mIoU: 63.9.
_base_ = [
    '../_base_/models/catseg_declip_eva02_l14.py',
    '../_base_/datasets/catseg_pc59.py',
    '../_base_/default_runtime.py',
]
model = dict(text_classifier=dict(class_names={{_base_.class_names}}))
test_evaluator = dict(ignore_index={{_base_.catseg_ignore_index}})
