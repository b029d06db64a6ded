# DeCLIP's schedule: 6 epochs (validation at the end). AdamW as DeCLIP: lr 1e-5 for a total batch
# of 16, wd 0.1 except on 1-D parameters (norms, biases). With auto_scale_lr enabled the lr
# scales linearly with the total batch. 1000 linear warm-up iterations, then cosine to 0.
max_epochs = 6
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
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
