"""Distillation methods, one file each, on :class:`DistillerBase` (``base.py``)."""
from .base import DistillerBase
from .clipself import CLIPSelfDistiller
from .declip import DeCLIPDistiller
from .densevlm import DenseVLMDistiller
from .regionclip import RegionCLIPDistiller

__all__ = ['CLIPSelfDistiller', 'DeCLIPDistiller', 'DenseVLMDistiller', 'DistillerBase',
           'RegionCLIPDistiller']
