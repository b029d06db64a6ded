# Runtime of every training config (tools/train.py): a checkpoint every epoch (3 kept), logs
# every 50 iterations (local and TensorBoard), seed 0, a stop at the first non-finite loss.
custom_imports = dict(imports=['declip_mmseg'], allow_failed_imports=False)
default_scope = 'mmseg'
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # written beside the target and renamed: a full disk never leaves a truncated checkpoint
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=3,
                    backend_args=dict(backend='safe_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    finite_loss=dict(type='FiniteLossHook'),  # a NaN / Inf loss stops training before its step
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
