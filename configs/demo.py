# Single images with your own class names (tools/demo.py, tools/web_demo.py): ClearCLIP on OpenAI
# ViT-B/16. Every method folder has its own demo.py; the web page lists them all by `demo_name`.
_base_ = ['./_base_/models/clearclip_vit_b16.py', './_base_/datasets/_pipelines.py',
          './_base_/default_runtime.py']
demo_name = 'ClearCLIP'
model = dict(cpu_amp_dtype='auto', text_classifier=dict(class_names=['object']), prob_thd=0.0)
test_pipeline = {{_base_.demo_448}}
