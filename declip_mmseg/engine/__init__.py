"""Training-loop plug-ins: hooks (distillation stage, drawing) and parameter schedulers."""
from .hooks import DeCLIPDistillHook, DistillHook, SegVisualizationHookAnyFormat
from .schedulers import WarmupCosineLR

__all__ = ['DeCLIPDistillHook', 'DistillHook', 'SegVisualizationHookAnyFormat', 'WarmupCosineLR']
