# Single images (tools/demo.py, tools/web_demo.py): DeCLIP's EVA02-B/16 with ProxyCLIP's DINO
# ViT-B/8 proxy attention (this project's combination), DeCLIP's protocol.
_base_ = ['../declip/demo.py', '../_base_/models/proxy_dino_b8.py']
demo_name = 'DeCLIP + proxy'
model = dict(cpu_amp_dtype='auto',
             backbone=dict(attn_mode='proxy', proxy={{_base_.proxy_dino_b8}}))
