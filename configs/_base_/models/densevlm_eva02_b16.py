# DenseVLM (ICCV'25) EVA02-CLIP-B/16, evaluated with DeCLIP's zero-shot protocol (window 336,
# stride 112, logit scale 40). DenseVLM is trained on CLIPSelf's dense features: the last block
# keeps its residual and FFN and its attention is replaced by the value path (MaskCLIP), which
# is attn_mode='identity' here.
densevlm_checkpoint = 'checkpoints/densevlm_coco_6_save6_512_eva_vib16_12layers.pt'
model = dict(
    type='ZeroShotSegmentor',
    backbone=dict(
        type='DeCLIPViT',
        model_name='EVA02-B-16',
        pretrained=densevlm_checkpoint,
        attn_mode='identity',
        residual=True,
        ffn=True,
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
