# CAT-Seg + DeCLIP EVA02-B/16 on PASCAL VOC 20, CAT-Seg's evaluation protocol (slide, pooling 1).
# Paper mIoU: 96.6 (96.68).
_base_ = [
    '../_base_/models/catseg_declip_eva02_b16.py',
    '../_base_/datasets/catseg_voc20.py',
    '../_base_/default_runtime.py',
]
model = dict(text_classifier=dict(class_names={{_base_.class_names}}))
test_evaluator = dict(ignore_index={{_base_.catseg_ignore_index}})
