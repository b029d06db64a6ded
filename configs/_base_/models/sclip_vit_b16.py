# SCLIP (ECCV'24) on OpenAI CLIP ViT-B/16: last block with correlative self-attention
# softmax(qq^T s) + softmax(kk^T s), residual and FFN kept; window 224, stride 112, logit
# scale 40, no PAMR (clip_segmentor.py defaults). Sizes not a multiple of 16 are floored by
# the patch convolution and the logits stretched back (patch_fit='floor'). SCLIP's VOC21 rule
# (AreaThreshold) is set in configs/sclip/cfg_voc21.py.
_base_ = ['./zero_shot_segmentor.py']
model = dict(
    backbone=dict(attn_mode='csa', residual=True, ffn=True),
    logit_scale=40.0,
    slide_crop=224,
    slide_stride=112,
    patch_fit='floor',
    postprocess=[],
)
