# DeCLIP (CVPR'25) zero-shot protocol: EVA02-CLIP-B/16 fine-tuned by DeCLIP, decoupled last block
# with SCLIP's csa attention, unscaled (DeCLIP trained it without the 1/sqrt(d) factor), no
# residual, no FFN; window 336, stride 112, logit scale 40. Test-time resize: short side 448,
# long side at most 4096 (declip_448 in ../datasets/_pipelines.py; Cityscapes declip_560).
# The released weights (HF xiaomoguhzz/DeCLIP_evab_dinov2B_csa_560_0.25_seg) hold the full CLIP
# in EVA-CLIP's key format; any DeCLIP / EVA-CLIP / open_clip file of this architecture works.
_base_ = ['./zero_shot_segmentor.py']
declip_checkpoint = 'checkpoints/evab_dinov2B_csa_560_0.25_seg.pt'
model = dict(
    backbone=dict(
        model_name='EVA02-B-16',
        pretrained=declip_checkpoint,
        attn_mode='csa',
        attn_scale=1.0,
    ),
    logit_scale=40.0,
    slide_crop=336,
    slide_stride=112,
)
