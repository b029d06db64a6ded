# DenseVLM EVA02-B/16 under DeCLIP's protocol, COCO-Object (80 things + background).
_base_ = ['../declip/cfg_coco_object.py', '../_base_/models/densevlm_eva02_b16.py']
model = dict(backbone={{_base_.densevlm_backbone}})
