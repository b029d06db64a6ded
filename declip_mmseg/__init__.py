"""declip-mmseg: open-vocabulary segmentation with dense CLIP features for mmsegmentation.

Importing the package registers its models, datasets, metrics and loops in
mmseg's registries (configs do it with ``custom_imports``).
"""
from . import datasets, engine, evaluation, models  # noqa: F401  (registration)
from .version import __version__

__all__ = ['__version__']
