# CAT-Seg + DenseVLM EVA02-B/16 (no published numbers) on PASCAL VOC 21, CAT-Seg's evaluation protocol
# (slide, pooling 1); the background is predicted through the 39 extra Context classes.
_base_ = [
    '../_base_/models/catseg_densevlm_eva02_b16.py',
    '../_base_/datasets/catseg_voc21.py',
    '../_base_/default_runtime.py',
]
model = dict(text_classifier=dict(class_names={{_base_.class_names}}), merge_labels_from=20)
test_evaluator = dict(ignore_index={{_base_.catseg_ignore_index}})
