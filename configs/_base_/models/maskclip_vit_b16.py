# MaskCLIP (ECCV'22) as its official code runs ViT-B/16: the last block's attention replaced by
# the values (identity weights), residual and FFN kept, then the final norm and projection;
# whole image, ImageNet mean / std (mmseg 0.x img_norm_cfg), bottom / right padding to the
# patch grid with the logits stretched back (PatchEmbed padding='corner'), MaskCLIP's 85
# prompts, plain argmax (no threshold, no key smoothing / prompt denoising).
_base_ = ['./zero_shot_segmentor.py']
model = dict(
    data_preprocessor=dict(type='mmseg.SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(attn_mode='identity', residual=True, ffn=True),
    text_classifier=dict(templates='maskclip_85'),
    logit_scale=100.0,
    inference_mode='whole',
    patch_fit='corner',
    postprocess=[],
)
