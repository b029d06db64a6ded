# Single images (tools/demo.py, tools/web_demo.py): DenseVLM's released EVA02-B/16 under
# DeCLIP's protocol.
_base_ = ['../declip/demo.py', '../_base_/models/densevlm_eva02_b16.py']
demo_name = 'DenseVLM'
model = dict(cpu_amp_dtype='auto', backbone={{_base_.densevlm_backbone}})
