# DenseVLM EVA02-B/16 under DeCLIP's protocol, COCO-Stuff164k (171 classes).
_base_ = ['../declip/cfg_coco_stuff164k.py', '../_base_/models/densevlm_eva02_b16.py']
model = dict(backbone={{_base_.densevlm_backbone}})
