from .distill_hook import DeCLIPDistillHook, DistillHook, export_student
from .schedulers import WarmupCosineLR

__all__ = ['DeCLIPDistillHook', 'DistillHook', 'WarmupCosineLR', 'export_student']
