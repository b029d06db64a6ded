"""declip-mmseg: open-vocabulary segmentation with dense CLIP features for mmsegmentation.

Importing the package registers its models, datasets, metrics, hooks and visualizers in
mmseg's registries (configs do it with ``custom_imports``); :mod:`declip_mmseg.registry`
lists every extension point.
"""
from . import datasets, engine, evaluation, models, visualization  # noqa: F401  (registration)
from .version import __version__

__all__ = ['__version__']
