from .distill_hook import DeCLIPDistillHook, export_student

__all__ = ['DeCLIPDistillHook', 'export_student']
