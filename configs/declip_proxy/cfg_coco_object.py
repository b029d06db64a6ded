# DeCLIP EVA02-B/16 with ProxyCLIP's proxy attention from DINO ViT-B/8 (this project's
# combination), DeCLIP's protocol, COCO-Object (80 things + background).
_base_ = ['../declip/cfg_coco_object.py', '../_base_/models/proxy_dino_b8.py']
model = dict(backbone=dict(attn_mode='proxy', proxy={{_base_.proxy_dino_b8}}))
