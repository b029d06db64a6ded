# Single images (tools/demo.py, tools/web_demo.py): MaskCLIP on OpenAI ViT-B/16, whole image,
# short side 512.
_base_ = ['../_base_/models/maskclip_vit_b16.py', '../_base_/datasets/_pipelines.py',
          '../_base_/default_runtime.py']
demo_name = 'MaskCLIP'
model = dict(cpu_amp_dtype='auto', text_classifier=dict(class_names=['object']))
test_pipeline = {{_base_.demo_512}}
