from .distill_hook import DeCLIPDistillHook, DistillHook
from .visualization_hook import SegVisualizationHookAnyFormat

__all__ = ['DeCLIPDistillHook', 'DistillHook', 'SegVisualizationHookAnyFormat']
