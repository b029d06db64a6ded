# Runtime of every evaluation config (tools/test.py): zero-shot segmentation (through
# default_runtime.py) and region classification.
custom_imports = dict(imports=['declip_mmseg'], allow_failed_imports=False)
default_scope = 'mmseg'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # tools/test.py switches to gloo on CPU-only machines
)
vis_backends = [dict(type='SafeLocalVisBackend')]  # --show-dir: a failed write stops the run
visualizer = dict(type='SegLocalVisualizerAnySize', vis_backends=vis_backends, name='visualizer',
                  alpha=0.6)  # mmseg's SegLocalVisualizer, 1x1 images included
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False

test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
)
