from .distill_hook import DeCLIPDistillHook, DistillHook
from .finite_loss_hook import FiniteLossHook, TrainingDivergedError
from .visualization_hook import SegVisualizationHookAnyFormat

__all__ = ['DeCLIPDistillHook', 'DistillHook', 'FiniteLossHook', 'SegVisualizationHookAnyFormat',
           'TrainingDivergedError']
