# CAT-Seg + DeCLIP EVA02-L/14-336 on PASCAL VOC 21, CAT-Seg's evaluation protocol
# (slide, pooling 1); the background is predicted through the 39 extra Context classes.
# Paper mIoU: 83.9.
_base_ = [
    '../_base_/models/catseg_declip_eva02_l14.py',
    '../_base_/datasets/catseg_voc21.py',
    '../_base_/default_runtime.py',
]
model = dict(text_classifier=dict(class_names={{_base_.class_names}}), merge_labels_from=20)
test_evaluator = dict(ignore_index={{_base_.catseg_ignore_index}})
