# ClearCLIP on OpenAI CLIP ViT-B/16: last block with q-q attention, no residual, no FFN.
_base_ = ['./zero_shot_segmentor.py']
model = dict(
    backbone=dict(attn_mode='qq'),
    logit_scale=50.0,
    slide_crop=448,
    slide_stride=224,
)
