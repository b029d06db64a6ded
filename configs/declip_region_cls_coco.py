# DeCLIP's validation: zero-shot classification of the annotated regions of COCO panoptic val2017
# (133 classes) from the student's dense content features, pooled in each box (1x1 RoIAlign,
# 'rois') and each mask ('maskpool'); mean class accuracy (%) top-1 / top-5, things and stuff apart.
#   python tools/test.py configs/declip_region_cls_coco.py [--checkpoint FILE]
# The dataset's patch_size must equal the backbone's (masks are given at the feature grid).
_base_ = ['./_base_/default_runtime.py']

checkpoint = 'checkpoints/evab_dinov2B_csa_560_0.25_seg.pt'
image_size = 560
patch_size = 16

model = dict(
    type='DenseRegionClassifier',
    backbone=dict(
        type='DeCLIPViT',
        model_name='EVA02-B-16',
        pretrained=checkpoint,
        attn_mode='qq',        # DeCLIP validates with qq attention
        residual=False,
        ffn=False,
        attn_scale=1.0,
    ),
    text_classifier=dict(type='ZeroShotTextClassifier',
                         class_names='{{fileDirname}}/class_names/coco_panoptic.txt',
                         templates='openai_imagenet'),
)

test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type='COCOPanopticRegionDataset',
        data_root='data/coco',
        ann_file='annotations/panoptic_val2017.json',
        img_dir='val2017',
        seg_dir='annotations/panoptic_val2017',
        image_size=image_size,
        patch_size=patch_size,
        max_regions=100,
        test_mode=True,
    ))
test_evaluator = dict(_delete_=True, type='RegionClassificationMetric',
                      methods=['rois', 'maskpool'], topk=[1, 5])
test_cfg = dict(type='TestLoop')
# no SegVisualizationHook: segmentation drawings do not apply to regions
default_hooks = dict(
    _delete_=True,
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
)
