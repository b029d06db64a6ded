# DeCLIP distillation stage (CVPR'25) on COCO train2017 images, EVA02-CLIP-B/16 student,
# DINOv2-B/14 context teacher, csa decoupling (the released zero-shot checkpoint's mode).
#   python tools/train.py configs/declip_distill_coco.py
#   bash tools/dist_train.sh configs/declip_distill_coco.py 8        # 8 GPUs x 2 = batch 16
# The exported inference checkpoint, work_dirs/declip_distill_coco/declip_student.pt, loads in
# the zero-shot configs: tools/test.py configs/declip/cfg_ade20k.py --checkpoint <it>.
custom_imports = dict(imports=['declip_mmseg'], allow_failed_imports=False)
default_scope = 'mmseg'

eva_base = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'   # EVA-CLIP release (or an open_clip file)
dinov2_weights = 'checkpoints/dinov2_vitb14_reg4_pretrain.pth'
data_root = 'data/coco'
image_size = 560          # the paper also reports 1024 (with a 896 DINOv2 view)
max_epochs = 6

model = dict(
    type='DeCLIPDistiller',
    student=dict(type='DeCLIPViT', model_name='EVA02-B-16', pretrained=eva_base,
                 attn_mode='csa',      # 'qq' | 'kk' | 'csa' (context features and last block)
                 residual=False, ffn=False,
                 attn_scale=1.0),      # DeCLIP's decoupled attention is unscaled
    loss_content_weight=1.0,
    loss_context_weight=0.25,          # paper; DeCLIP's released scripts use 0.1; 0 = CLIPSelf
    unlocked_blocks=None,              # all 12 blocks (paper); 6 is slightly better for segmentation
    val_text_classifier=dict(type='ZeroShotTextClassifier',
                             class_names='{{fileDirname}}/class_names/coco_panoptic.txt',
                             templates='openai_imagenet'),
    val_attn_mode='qq',
)

train_dataloader = dict(
    batch_size=2,                      # per GPU; DeCLIP uses a total batch of 16
    num_workers=4,
    persistent_workers=False,          # workers must see the dataset's epoch (grid sampling)
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='GridDistillDataset', data_root=data_root, img_dir='train2017',
                 ann_file='annotations/instances_train2017.json', image_size=image_size,
                 crop_size=224, student_patch=16, vfm_patch=14, max_split=6, max_boxes=20,
                 seed=0))

val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='COCOPanopticRegionDataset', data_root=data_root,
                 ann_file='annotations/panoptic_val2017.json', img_dir='val2017',
                 seg_dir='annotations/panoptic_val2017', image_size=image_size, patch_size=16))
val_evaluator = dict(type='RegionClassificationMetric')
val_cfg = dict(type='ValLoop')

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)

# AdamW as DeCLIP: lr 1e-5 for a total batch of 16, wd 0.1 except on 1-D parameters
# (norms, biases). With auto_scale_lr enabled the lr scales linearly with the total batch.
optim_wrapper = dict(
    type='AmpOptimWrapper', dtype='bfloat16',   # fp32 on CPU (tools/train.py switches)
    optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.1, betas=(0.9, 0.999), eps=1e-8),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
    clip_grad=None)                              # e.g. dict(max_norm=1.0)
auto_scale_lr = dict(enable=False, base_batch_size=16)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=1000),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs,
         eta_min=0.0, convert_to_iter_based=True),
]

custom_hooks = [
    dict(type='DeCLIPDistillHook',
         vfm=dict(name='dinov2-B', weights=dinov2_weights),
         alpha=None,                   # DeCLIP's scripts blend 0.7 (B/16) / 0.95 (L/14) at save
         export_name='declip_student.pt'),
]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=True)
log_level = 'INFO'
randomness = dict(seed=0)
load_from = None
resume = False
