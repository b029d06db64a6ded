# ClearCLIP on OpenAI CLIP ViT-B/16: last block with q-q attention, no residual, no FFN.
model = dict(
    type='ZeroShotSegmentor',
    backbone=dict(
        type='DeCLIPViT',
        model_name='ViT-B-16',
        pretrained='openai',  # an open_clip tag or a local checkpoint path
        attn_mode='qq',
        residual=False,
        ffn=False,
        attn_scale=None,  # head_dim ** -0.5
    ),
    text_classifier=dict(
        type='ZeroShotTextClassifier',
        class_names=None,  # set per dataset
        templates='openai_imagenet',
    ),
    logit_scale=50.0,
    prob_thd=0.0,
    inference_mode='slide',
    slide_crop=448,
    slide_stride=224,
    window_batch_size=16,
    amp_dtype='float16',
)
