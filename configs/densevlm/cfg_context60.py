# DenseVLM EVA02-B/16 under DeCLIP's protocol, PASCAL Context with background (60 classes).
_base_ = ['../declip/cfg_context60.py', '../_base_/models/densevlm_eva02_b16.py']
model = dict(backbone={{_base_.densevlm_backbone}})
