# DenseVLM EVA02-B/16 under DeCLIP's protocol, Cityscapes (19 classes), short side 560.
_base_ = ['../declip/cfg_city_scapes.py', '../_base_/models/densevlm_eva02_b16.py']
model = dict(backbone={{_base_.densevlm_backbone}})
