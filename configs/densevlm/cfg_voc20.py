# DenseVLM EVA02-B/16 under DeCLIP's protocol, PASCAL VOC 2012 without background (20 classes).
_base_ = ['../declip/cfg_voc20.py', '../_base_/models/densevlm_eva02_b16.py']
model = dict(backbone={{_base_.densevlm_backbone}})
