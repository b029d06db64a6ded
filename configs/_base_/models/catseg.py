# CAT-Seg (CVPR'24), shared keys: the B/16 aggregator of eva_vitb_384.yaml / vitb_384.yaml, CAT-Seg's
# single template, first synonym only (the reference; synonyms='mean' averages all), the
# evaluation protocol of eval.sh (inference_mode='slide': 640x640, four 384 windows at stride 256
# plus a global view, class pooling (1, 1)). Training configs switch to pooling (2, 2) and
# inference_mode='whole' (the reference's periodic evaluation). Each backbone base sets the CLIP,
# its dense path and `checkpoint` (a released CAT-Seg file: the only weights needed).
model = dict(
    type='CATSeg',
    checkpoint=None,
    backbone=dict(type='DeCLIPViT', residual=False, ffn=False),
    text_classifier=dict(
        type='CATSegTextEncoder',
        class_names=None,  # set per dataset: a list of class lines
        templates=['A photo of a {} in the scene'],
        synonyms='first',
        allow_duplicate_names=True,  # ADE-847 repeats 9 first names (bag x3, pot, ...)
    ),
    aggregator=dict(
        type='CATSegAggregator',
        text_guidance_dim=512, text_guidance_proj_dim=128,
        appearance_guidance_dim=512, appearance_guidance_proj_dim=128,
        decoder_dims=(64, 32), decoder_guidance_dims=(256, 128), decoder_guidance_proj_dims=(32, 16),
        num_layers=2, num_heads=4, hidden_dim=128,
        pooling_sizes=(1, 1),
        feature_resolution=(24, 24), window_sizes=12, prompt_channel=1, pad_len=256,
    ),
    clip_resolution=(384, 384),
    guidance_layers=(3, 7),
    upsample_dims=(256, 128),
    inference_mode='slide',
    slide_size=(640, 640), slide_crop=384, slide_stride=256,
    size_divisor=32,
    clip_finetune='attention',
    ignore_as_negative=True,
)
