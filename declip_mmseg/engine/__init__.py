"""Training-loop plug-ins: hooks (distillation stage, drawing, finite losses) and parameter
schedulers."""
from .file_backend import SafeLocalBackend
from .hooks import (
                    DeCLIPDistillHook,
                    DistillHook,
                    FiniteLossHook,
                    SegVisualizationHookAnyFormat,
                    TrainingDivergedError,
)
from .schedulers import WarmupCosineLR

__all__ = ['DeCLIPDistillHook', 'DistillHook', 'FiniteLossHook', 'SafeLocalBackend',
           'SegVisualizationHookAnyFormat', 'TrainingDivergedError', 'WarmupCosineLR']
