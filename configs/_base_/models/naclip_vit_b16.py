# NACLIP (WACV'25) on OpenAI CLIP ViT-B/16: last block 'reduced' (no residual, no FFN), k-k
# attention plus a spatial Gaussian bias (sigma 5 patches); PAMR (10 iterations, dilations 8
# and 16) on the raw logits at the original image size, on by default as in naclip.py;
# window 224, stride 112, logit scale 40; sizes floored by the patch convolution.
model = dict(
    type='ZeroShotSegmentor',
    backbone=dict(type='DeCLIPViT', model_name='ViT-B-16', pretrained='openai',
                  attn_mode='naclip', residual=False, ffn=False, attn_scale=None),
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
    postprocess=[dict(type='PAMR', num_iter=10, dilations=(8, 16))],
)
