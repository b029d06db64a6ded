# Train CAT-Seg on DeCLIP's EVA02-CLIP-B/16 on COCO-Stuff 164k (171 classes), the recipe of the
# DeCLIP_CATSeg branch (eva_vitb_384.yaml over config.yaml): starts from the DeCLIP backbone file
# (DeCLIP_EVA-B_DINOv2-B_csa_0.05_2.0; any DeCLIP / EVA-CLIP / open_clip file of EVA02-B-16, or a
# student exported by configs/declip/declip_distill_coco.py), trains the visual q / v projections,
# the text tower's packed q/k/v and the whole aggregator; BCE with ignored pixels as negatives
# (model.ignore_as_negative=False leaves them out). Periodic evaluation every 5k iterations on
# COCO-Stuff val with one view and pooling (2, 2), as the reference. When training ends,
# work_dir/catseg_model.pth is written: pass it as model.checkpoint of the evaluation configs.
_base_ = [
    '../_base_/models/catseg_declip_eva02_b16.py',
    '../_base_/datasets/catseg_coco_stuff164k_train.py',
    '../_base_/schedules/catseg_adamw_cosine_80k.py',
    '../_base_/train_runtime.py',
]
declip_backbone = 'checkpoints/DeCLIP_EVA-B_DINOv2-B_csa_0.05_2.0.pt'
model = dict(
    checkpoint=None,
    backbone=dict(pretrained=declip_backbone),
    text_classifier=dict(class_names={{_base_.class_names}}),
    aggregator=dict(pooling_sizes=(2, 2)),
    inference_mode='whole',
)
val_dataloader = {{_base_.test_dataloader}}
test_dataloader = {{_base_.test_dataloader}}
val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'], ignore_index=255)
test_evaluator = val_evaluator
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
)
log_processor = dict(by_epoch=False)
custom_hooks = [dict(type='CATSegExportHook', export_name='catseg_model.pth')]
