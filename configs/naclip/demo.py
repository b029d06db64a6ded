# Single images (tools/demo.py, tools/web_demo.py): NACLIP with PAMR on OpenAI ViT-B/16, short
# side 336.
_base_ = ['../_base_/models/naclip_vit_b16.py', '../_base_/datasets/_pipelines.py',
          '../_base_/default_runtime.py']
demo_name = 'NACLIP + PAMR'
model = dict(cpu_amp_dtype='auto', text_classifier=dict(class_names=['object']))
test_pipeline = {{_base_.demo_336}}
