# DeCLIP's validation: zero-shot classification of the annotated regions of COCO panoptic val2017
# (133 classes) from the student's dense content features, pooled in each box (1x1 RoIAlign,
# 'rois') and each mask ('maskpool'); mean class accuracy (%) top-1 / top-5, things and stuff apart.
#   python tools/test.py configs/declip/declip_region_cls_coco.py [--checkpoint FILE]
# 560 px, patch 16 (../_base_/datasets/coco_panoptic_regions.py): the dataset's patch_size must
# equal the backbone's (masks are given at the feature grid).
# No SegVisualizationHook (test_runtime.py): segmentation drawings do not apply to regions.
_base_ = ['../_base_/test_runtime.py', '../_base_/datasets/coco_panoptic_regions.py']

model = dict(
    type='DenseRegionClassifier',
    backbone=dict(
        type='DeCLIPViT',
        model_name='EVA02-B-16',
        pretrained='checkpoints/evab_dinov2B_csa_560_0.25_seg.pt',  # DeCLIP's release
        attn_mode='qq',        # DeCLIP validates with qq attention
        residual=False,
        ffn=False,
        attn_scale=1.0,
    ),
    text_classifier=dict(type='ZeroShotTextClassifier',
                         class_names='{{fileDirname}}/../class_names/coco_panoptic.txt',
                         templates='openai_imagenet'),
)

test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset={{_base_.coco_panoptic_regions_test}})
test_evaluator = dict(type='RegionClassificationMetric', methods=['rois', 'maskpool'], topk=[1, 5])
