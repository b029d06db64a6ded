# CAT-Seg on DeCLIP's EVA02-CLIP-L/14-336 (DeCLIP_CATSeg branch, configs/eva_vitl_336.yaml): 336 px
# CLIP input (24x24 grid), guidance from blocks 7, 15, 768-d text / appearance guidance. No CAT-Seg
# L/14 checkpoint is released: `checkpoint` is the file our training writes (catseg_model.pth).
_base_ = ['./catseg_declip_eva02_b16.py']
model = dict(
    checkpoint='checkpoints/catseg_declip-eva02-l14.pth',
    backbone=dict(model_name='EVA02-L-14-336'),
    aggregator=dict(text_guidance_dim=768, appearance_guidance_dim=768),
    clip_resolution=(336, 336),
    guidance_layers=(7, 15),
)
