# Single images (tools/demo.py, tools/web_demo.py): CAT-Seg on DeCLIP's EVA02-B/16, the released
# CAT-Seg checkpoint (model.checkpoint), CAT-Seg's evaluation protocol at short side 640.
_base_ = ['../_base_/models/catseg_declip_eva02_b16.py', '../_base_/datasets/_pipelines.py',
          '../_base_/default_runtime.py']
demo_name = 'CAT-Seg (DeCLIP EVA02-B/16)'
model = dict(text_classifier=dict(class_names=['object']))
test_pipeline = {{_base_.catseg_demo}}
