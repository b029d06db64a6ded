# ProxyCLIP (ECCV'24) on OpenAI CLIP ViT-B/16 with DINO ViT-B/8 as the proxy: the last block
# keeps its values only, mixed by softmax(gamma (S - beta mean S)) over the VFM's cosine
# similarities (negatives masked), no residual, no FFN; windows 336 / 112, each padded
# (centred) to a multiple of lcm(16, 8); logit scale 40, no post-processing.
_base_ = ['./zero_shot_segmentor.py', './proxy_dino_b8.py']
model = dict(
    backbone=dict(attn_mode='proxy', proxy={{_base_.proxy_dino_b8}}),
    logit_scale=40.0,
    slide_crop=336,
    slide_stride=112,
    patch_fit='pad',
    postprocess=[],
)
