# DenseVLM EVA02-B/16 under DeCLIP's protocol, PASCAL VOC 2012 with background (21 classes).
_base_ = ['../declip/cfg_voc21.py', '../_base_/models/densevlm_eva02_b16.py']
model = dict(backbone={{_base_.densevlm_backbone}})
