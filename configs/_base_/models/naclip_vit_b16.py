# NACLIP (WACV'25) on OpenAI CLIP ViT-B/16: last block 'reduced' (no residual, no FFN), k-k
# attention plus a spatial Gaussian bias (sigma 5 patches); PAMR (10 iterations, dilations 8
# and 16) on the raw logits at the original image size, on by default as in naclip.py;
# window 224, stride 112, logit scale 40; sizes floored by the patch convolution (these three
# as SCLIP's, inherited).
_base_ = ['./sclip_vit_b16.py']
model = dict(
    backbone=dict(attn_mode='naclip', residual=False, ffn=False),
    postprocess=[dict(type='PAMR', num_iter=10, dilations=(8, 16))],
)
