# Train CAT-Seg on DenseVLM's EVA02-CLIP-B/16 (the integration DenseVLM announced and never
# released): the DeCLIP recipe with DenseVLM's dense path (see _base_/models/catseg_densevlm_*).
_base_ = ['./catseg_declip-eva02-b16_4xb1-80k_coco-stuff164k-384x384.py']
model = dict(
    backbone=dict(pretrained='checkpoints/densevlm_coco_6_save6_512_eva_vib16_12layers.pt',
                  attn_mode='identity', residual=True, ffn=True, attn_scale=None),
)
