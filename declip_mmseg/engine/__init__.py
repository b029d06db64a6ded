from .distill_hook import DeCLIPDistillHook, export_student
from .visualizer import SegLocalVisualizerAnySize, SegVisualizationHookAnyFormat

__all__ = ['DeCLIPDistillHook', 'SegLocalVisualizerAnySize', 'SegVisualizationHookAnyFormat',
           'export_student']
