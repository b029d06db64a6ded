# DenseVLM EVA02-B/16 under DeCLIP's protocol, ADE20K (150 classes).
_base_ = ['../declip/cfg_ade20k.py', '../_base_/models/densevlm_eva02_b16.py']
model = dict(backbone={{_base_.densevlm_backbone}})
