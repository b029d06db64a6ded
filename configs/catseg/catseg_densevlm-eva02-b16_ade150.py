# CAT-Seg + DenseVLM EVA02-B/16 (no published numbers) on ADE-150,
# CAT-Seg's evaluation protocol (slide, pooling 1).
_base_ = [
    '../_base_/models/catseg_densevlm_eva02_b16.py',
    '../_base_/datasets/catseg_ade150.py',
    '../_base_/default_runtime.py',
]
model = dict(text_classifier=dict(class_names={{_base_.class_names}}))
test_evaluator = dict(ignore_index={{_base_.catseg_ignore_index}})
