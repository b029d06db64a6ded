# Runtime shared by every zero-shot segmentation config: test_runtime.py plus the mIoU metric
# and the hook that draws predictions (tools/test.py --show-dir).
_base_ = ['./test_runtime.py']
test_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
default_hooks = dict(
    visualization=dict(type='SegVisualizationHookAnyFormat', draw=False,  # mmseg's, any format
                       interval=1),
)
