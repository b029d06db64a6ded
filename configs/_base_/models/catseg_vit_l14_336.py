# CAT-Seg's own OpenAI CLIP ViT-L/14@336 (configs/vitl_336.yaml; model_large.pth).
_base_ = ['./catseg_vit_b16.py']
model = dict(
    checkpoint='checkpoints/model_large.pth',
    backbone=dict(model_name='ViT-L-14-336'),
    aggregator=dict(text_guidance_dim=768, appearance_guidance_dim=768),
    clip_resolution=(336, 336),
    guidance_layers=(7, 15),
)
