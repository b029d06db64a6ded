# DeCLIP (CVPR'25) zero-shot protocol: EVA02-CLIP-B/16 fine-tuned by DeCLIP, decoupled last block
# with SCLIP's csa attention, unscaled (DeCLIP trained it without the 1/sqrt(d) factor), no
# residual, no FFN; window 336, stride 112, logit scale 40.
# The released weights (HF xiaomoguhzz/DeCLIP_evab_dinov2B_csa_560_0.25_seg) hold the full CLIP
# in EVA-CLIP's key format; any DeCLIP / EVA-CLIP / open_clip file of this architecture works.
declip_checkpoint = 'checkpoints/evab_dinov2B_csa_560_0.25_seg.pt'
model = dict(
    type='ZeroShotSegmentor',
    backbone=dict(
        type='DeCLIPViT',
        model_name='EVA02-B-16',
        pretrained=declip_checkpoint,
        attn_mode='csa',
        residual=False,
        ffn=False,
        attn_scale=1.0,
    ),
    text_classifier=dict(type='ZeroShotTextClassifier', class_names=None,
                         templates='openai_imagenet'),
    logit_scale=40.0,
    prob_thd=0.0,
    inference_mode='slide',
    slide_crop=336,
    slide_stride=112,
    window_batch_size=16,
    amp_dtype='float16',
)

# DeCLIP's test-time resize: short side 448, long side at most 4096 (Cityscapes and
# COCO-Object configs set their own).
declip_test_pipeline = [
    dict(type='LoadImageWithPillowFallback'),  # OpenCV, else Pillow (GIF, ...)
    dict(type='Resize', scale=(4096, 448), keep_ratio=True),
    dict(type='LoadAnnotationsKeepShape'),  # label maps of any size, 1x1 included
    dict(type='PackSegInputs'),
]
