from .catseg_export_hook import CATSegExportHook
from .distill_hook import DeCLIPDistillHook, DistillHook
from .finite_loss_hook import FiniteLossHook, TrainingDivergedError
from .visualization_hook import SegVisualizationHookAnyFormat

__all__ = ['CATSegExportHook', 'DeCLIPDistillHook', 'DistillHook', 'FiniteLossHook',
           'SegVisualizationHookAnyFormat', 'TrainingDivergedError']
