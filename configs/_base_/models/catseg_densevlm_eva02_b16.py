# CAT-Seg on DenseVLM's EVA02-CLIP-B/16 (announced by DenseVLM, never released): the dense path
# DenseVLM was trained for (value path with residual and FFN, attn_mode='identity'), normalised.
# No released checkpoint: `checkpoint` is the file our coco training writes.
_base_ = ['./catseg_declip_eva02_b16.py']
model = dict(
    checkpoint='checkpoints/catseg_densevlm-eva02-b16.pth',
    backbone=dict(attn_mode='identity', residual=True, ffn=True, attn_scale=None),
)
