"""A CLIP from a model name and weights (open_clip's ``factory`` / ``pretrained`` / ``convert``).

:mod:`.sources` (tags, files, checks), :mod:`.formats` (checkpoint formats),
:mod:`.architecture` (what a file holds), :mod:`.factory` (build, load, export),
:mod:`.constants` (image statistics).
"""
from .constants import (
                        CLIP_MEAN_01,
                        CLIP_MEAN_255,
                        CLIP_STD_01,
                        CLIP_STD_255,
                        IMAGENET_MEAN_01,
                        IMAGENET_MEAN_255,
                        IMAGENET_STD_01,
                        IMAGENET_STD_255,
)
from .factory import (
                        WEIGHT_KEYS,
                        blend,
                        build_clip,
                        detach_visual,
                        load_weights,
                        resolve_model_name,
                        save_clip,
                        weight_source,
)
from .sources import (
                        NonFiniteWeightsError,
                        WeightsUnavailableError,
                        check_checkpoint_file,
                        check_finite,
                        check_tag_available,
                        check_weight_source,
                        describe_archive,
                        load_checkpoint_file,
                        local_path,
                        looks_like_path,
                        weights_identity,
)

__all__ = ['CLIP_MEAN_01', 'CLIP_MEAN_255', 'CLIP_STD_01', 'CLIP_STD_255', 'IMAGENET_MEAN_01',
           'IMAGENET_MEAN_255', 'IMAGENET_STD_01', 'IMAGENET_STD_255', 'WEIGHT_KEYS',
           'NonFiniteWeightsError', 'WeightsUnavailableError', 'blend', 'build_clip',
           'check_checkpoint_file', 'check_finite', 'check_tag_available', 'check_weight_source',
           'describe_archive', 'detach_visual', 'load_checkpoint_file',
           'load_weights', 'local_path', 'looks_like_path', 'resolve_model_name', 'save_clip',
           'weight_source', 'weights_identity']
