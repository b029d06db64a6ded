# CAT-Seg's schedule (configs/config.yaml): AdamW 2e-4 (betas 0.9 / 0.999, eps 1e-8), weight decay
# 1e-4 except norm layers (the CLIP's norms and embeddings are frozen), the CLIP at lr x 0.01,
# gradient clipping on the whole model at L2 norm 0.01, 80k iterations of cosine decay to 0
# without warm-up, total batch 4 (auto_scale_lr rescales the lr for another total batch).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4),
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        custom_keys={'backbone.': dict(lr_mult=0.01), 'text_classifier.clip.': dict(lr_mult=0.01)}),
)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=80000, eta_min=0.0, by_epoch=False,
                        begin=0, end=80000)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=80000, val_interval=5000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=True, base_batch_size=4)
