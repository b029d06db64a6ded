# DenseVLM's schedule: 6 epochs (validation at the end; DenseVLM: every epoch (1)).
# AdamW as DenseVLM (non-ViT defaults of OpenCLIP: betas 0.9 / 0.999, eps 1e-8), lr 1e-5 for a
# total batch of 64, wd 0.1 on weights, 0 on norms, biases and other 1-D parameters; fp16 AMP
# with a dynamic loss scale (fp32 on CPU, tools/train.py switches). With
# auto_scale_lr.enable=True the lr scales linearly with your total batch (base 64).
max_epochs = 6
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(
    type='AmpOptimWrapper', dtype='float16', loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.1, betas=(0.9, 0.999), eps=1e-8),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
    clip_grad=None)
auto_scale_lr = dict(enable=False, base_batch_size=64)
# OpenCLIP's cosine_lr: lr * (i + 1) / 1000 for 1000 iterations, then cosine to 0 at the end.
param_scheduler = [dict(type='WarmupCosineLR', warmup=1000, by_epoch=True, begin=0,
                        end=max_epochs, convert_to_iter_based=True)]
