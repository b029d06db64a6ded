"""Every extension point of declip_mmseg, in one place ("where do I plug in?").

Components built from configs live in mmsegmentation's registries (``mmseg.registry``):

=================  ==========================================================================
MODELS             segmentors (``ZeroShotSegmentor``, ``DenseRegionClassifier``), backbones
                   (``DenseCLIPViT`` = ``DeCLIPViT``), heads (``ZeroShotTextClassifier``),
                   distillers (``DeCLIPDistiller`` ...), post-processing steps (``PAMR``,
                   ``AreaThreshold``: a ``stage`` attribute, see
                   :mod:`declip_mmseg.models.segmentors.postprocess`)
DATASETS           ``PascalVOC20Dataset``, ``COCOObjectDataset``, ``GridDistillDataset``, ...
TRANSFORMS         ``LoadImageWithPillowFallback``, ``LoadAnnotationsKeepShape``
METRICS            ``PerClassIoUMetric``, ``RegionClassificationMetric``
HOOKS              ``DistillHook``, ``FiniteLossHook``, ``SegVisualizationHookAnyFormat``
VISUALIZERS        ``SegLocalVisualizerAnySize``
VISBACKENDS        ``SafeLocalVisBackend``
PARAM_SCHEDULERS   ``WarmupCosineLR``
=================  ==========================================================================

Below are the package's own lookup tables, each filled by a decorator where its entries are
defined (importing :mod:`declip_mmseg` fills them all):

=====================  ===========================  =========================================
table                  key -> value                 entries defined in
=====================  ===========================  =========================================
ATTN_MODES             name -> attention rule       models/backbones/decoupled_attention.py
ATTN_FUSED             name -> fused attention      models/backbones/decoupled_attention.py
TOWERS                 visual class -> dense tower  models/backbones/{openclip_vit,eva_vit}.py
VFMS                   name -> VFM builder          models/backbones/vfm.py
CHECKPOINT_FORMATS     name -> (detect, convert)    clip/formats.py
TEMPLATE_SETS          name -> prompt templates     text/templates.py
GRID_STYLES            name -> grid layouts         datasets/grid_distill.py
PATCH_FITS             name -> (fit, restore)       models/segmentors/patch_fit.py
=====================  ===========================  =========================================
"""
from typing import Callable, Dict, List, Tuple, Type

ATTN_MODES: Dict[str, Callable] = {}
ATTN_FUSED: Dict[str, Callable] = {}
TOWERS: Dict[Type, Type] = {}
VFMS: Dict[str, Callable] = {}
CHECKPOINT_FORMATS: Dict[str, Tuple[Callable, Callable]] = {}
TEMPLATE_SETS: Dict[str, List[str]] = {}
GRID_STYLES: Dict[str, Callable] = {}
PATCH_FITS: Dict[str, Callable] = {}


def _register_in(table: dict, key, value_of=lambda fn: fn):
    def wrap(fn):
        table[key] = value_of(fn)
        return fn
    return wrap


def register_attn_mode(name: str):
    """Decorator: ``rule(q, k, v, scale, grid) -> weights`` under ``name`` (``attn_mode=name``)."""
    return _register_in(ATTN_MODES, name)


def register_fused_attn(name: str):
    """Decorator: ``out(q, k, v, scale, grid) -> weights @ v`` of rule ``name`` computed by a fused
    kernel (``F.scaled_dot_product_attention``), used on the CPU fast path."""
    return _register_in(ATTN_FUSED, name)


def register_tower(visual_cls: Type):
    """Class decorator: the dense wrapper of an open_clip visual tower class."""
    return _register_in(TOWERS, visual_cls)


def register_vfm(name: str):
    """Decorator: ``builder(weights, **arch_overrides) -> VisionFoundationModel`` under ``name``."""
    return _register_in(VFMS, name)


def register_checkpoint_format(name: str, detect: Callable[[dict], bool]):
    """Decorator: ``convert(state_dict, model) -> open_clip state dict`` for files ``detect`` accepts."""
    return _register_in(CHECKPOINT_FORMATS, name, lambda convert: (detect, convert))


def register_grid_style(name: str):
    """Decorator: ``choices(max_split) -> [(rows, cols), ...]`` of a distillation grid."""
    return _register_in(GRID_STYLES, name)


def register_patch_fit(name: str):
    """Decorator: ``fit(inputs, multiple) -> (network input, restore)`` (``patch_fit=name``)."""
    return _register_in(PATCH_FITS, name)


def register_templates(name: str, templates) -> None:
    """Add a prompt-template set; items are format strings or one-argument callables."""
    TEMPLATE_SETS[name] = [t if isinstance(t, str) else t('{}') for t in templates]
