# Single images (tools/demo.py, tools/web_demo.py): DeCLIP's released EVA02-B/16 under its
# zero-shot protocol (short side 448, windows 336 / 112).
_base_ = ['../_base_/models/declip_eva02_b16.py', '../_base_/datasets/_pipelines.py',
          '../_base_/default_runtime.py']
demo_name = 'DeCLIP'
model = dict(cpu_amp_dtype='auto', text_classifier=dict(class_names=['object']))
test_pipeline = {{_base_.demo_declip_448}}
