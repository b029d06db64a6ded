# ProxyCLIP (ECCV'24) on OpenAI CLIP ViT-B/16 with DINO ViT-B/8 as the proxy: the last block
# keeps its values only, mixed by softmax(gamma (S - beta mean S)) over the VFM's cosine
# similarities (negatives masked), no residual, no FFN; windows 336 / 112, each padded
# (centred) to a multiple of lcm(16, 8); logit scale 40, no post-processing.
_base_ = ['./proxy_dino_b8.py']
model = dict(
    type='ZeroShotSegmentor',
    backbone=dict(type='DeCLIPViT', model_name='ViT-B-16', pretrained='openai',
                  attn_mode='proxy', residual=False, ffn=False, attn_scale=None,
                  proxy={{_base_.proxy_dino_b8}}),
    text_classifier=dict(type='ZeroShotTextClassifier', class_names=None,
                         templates='openai_imagenet'),
    logit_scale=40.0,
    prob_thd=0.0,
    inference_mode='slide',
    slide_crop=336,
    slide_stride=112,
    window_batch_size=16,
    amp_dtype='float16',
    patch_fit='pad',
    postprocess=[],
)
