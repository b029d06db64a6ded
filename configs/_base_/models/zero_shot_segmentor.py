# Keys every zero-shot segmentation base shares: ZeroShotSegmentor on OpenAI CLIP ViT-B/16 (the
# last block without residual and FFN unless a method keeps them), text embedded with OpenAI's
# ImageNet templates, no background threshold, sliding windows in batches of 16, fp16 autocast.
# Each method base sets the rest: attention rule, windows, logit scale, patch fit, post-processing.
model = dict(
    type='ZeroShotSegmentor',
    backbone=dict(
        type='DeCLIPViT',
        model_name='ViT-B-16',
        pretrained='openai',  # an open_clip tag or a local checkpoint path
        residual=False,
        ffn=False,
        attn_scale=None,  # head_dim ** -0.5
    ),
    text_classifier=dict(
        type='ZeroShotTextClassifier',
        class_names=None,  # set per dataset
        templates='openai_imagenet',
    ),
    prob_thd=0.0,
    inference_mode='slide',
    window_batch_size=16,
    amp_dtype='float16',
    # CPU: oneDNN linears with packed weights + fused attention (False: torch's eager ops), same
    # numbers as fp32 within 1e-5. Evaluation stays fp32 so that scores match the papers; the
    # demo configs (demo.py) take 'auto': bf16 where the CPU has it natively. See docs/speed.md.
    cpu_fast_path=True,
    cpu_amp_dtype=None,
)
