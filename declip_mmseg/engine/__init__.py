from .distill_hook import DeCLIPDistillHook, DistillHook, export_student
from .schedulers import WarmupCosineLR
from .visualizer import SegLocalVisualizerAnySize, SegVisualizationHookAnyFormat

__all__ = ['DeCLIPDistillHook', 'DistillHook', 'SegLocalVisualizerAnySize',
           'SegVisualizationHookAnyFormat', 'WarmupCosineLR', 'export_student']
