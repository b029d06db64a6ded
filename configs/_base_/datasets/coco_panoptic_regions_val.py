# Validation of the distillation configs: region classification of COCO panoptic val2017 by the
# student (RegionClassificationMetric), at the end of training by default (train_cfg.val_interval).
_base_ = ['./coco_panoptic_regions.py']
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset={{_base_.coco_panoptic_regions}})
val_evaluator = dict(type='RegionClassificationMetric')
val_cfg = dict(type='ValLoop')
