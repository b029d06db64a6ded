# SCLIP (ECCV'24) on OpenAI CLIP ViT-B/16: last block with correlative self-attention
# softmax(qq^T s) + softmax(kk^T s), residual and FFN kept; window 224, stride 112, logit
# scale 40, no PAMR (clip_segmentor.py defaults). Sizes not a multiple of 16 are floored by
# the patch convolution and the logits stretched back (patch_fit='floor').
model = dict(
    type='ZeroShotSegmentor',
    backbone=dict(type='DeCLIPViT', model_name='ViT-B-16', pretrained='openai',
                  attn_mode='csa', residual=True, ffn=True, attn_scale=None),
    text_classifier=dict(type='ZeroShotTextClassifier', class_names=None,
                         templates='openai_imagenet'),
    logit_scale=40.0,
    prob_thd=0.0,
    inference_mode='slide',
    slide_crop=224,
    slide_stride=112,
    window_batch_size=16,
    amp_dtype='float16',
    patch_fit='floor',
    postprocess=[],
)
# SCLIP's VOC21 rule (area_thd=0.1): foreground classes under 10 % of the predicted
# foreground area are dropped before the argmax and prob_thd.
sclip_area_thd = [dict(type='AreaThreshold', area_thd=0.1)]
