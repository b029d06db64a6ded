"""What the tools do, as functions (tools/*.py are argument parsers over these)."""
from ..clip import WeightsUnavailableError
from ..text import ClassNameError
from .config import load_config, set_checkpoint, setup_local_rank
from .inference import OpenVocabInferencer, Segmentation
from .test import load_test_config, per_class_iou, run_test
from .workbook import WorkbookError

__all__ = ['ClassNameError', 'OpenVocabInferencer', 'Segmentation', 'WeightsUnavailableError',
           'WorkbookError', 'load_config', 'load_test_config', 'per_class_iou', 'run_test',
           'set_checkpoint', 'setup_local_rank']
