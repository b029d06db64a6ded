from .distill_hook import DeCLIPDistillHook, export_student
from .visualizer import SegLocalVisualizerAnySize

__all__ = ['DeCLIPDistillHook', 'SegLocalVisualizerAnySize', 'export_student']
