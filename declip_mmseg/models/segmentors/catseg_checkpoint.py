"""CAT-Seg checkpoints in the released (detectron2) format: read, check, map, write.

A released file (DeCLIP_CATSeg ``CATSeg_DeCLIP_EVA-B_DINOv2-B_csa_0.05_2.0``, CAT-Seg's
``model_base.pth`` / ``model_large.pth``) is a dict whose ``model`` entry is ``CATSeg.state_dict()``
(other entries, e.g. ``trainer`` and ``iteration``, are ignored):

=========================================  =========================================
file key prefix                            module of :class:`~.catseg.CATSeg`
=========================================  =========================================
``sem_seg_head.predictor.clip_model.``     the CLIP (EVA-CLIP, OpenAI split-q/k/v or
                                           open_clip naming, converted by
                                           :func:`declip_mmseg.clip.formats.to_open_clip`):
                                           ``visual.*`` -> ``backbone.tower.visual.*``,
                                           the rest -> ``text_classifier.clip.*``
``sem_seg_head.predictor.transformer.``    ``aggregator.``
``upsample1.`` / ``upsample2.``            ``upsample1.`` / ``upsample2.``
=========================================  =========================================

:func:`released_state_dict` writes a model back in this format (open_clip naming for the CLIP),
which :func:`load_catseg_checkpoint` reads; training ends by writing one (``CATSegExportHook``).
"""
import os
import os.path as osp
from types import SimpleNamespace
from typing import Dict

import torch
import torch.nn as nn

from ...clip.formats import to_open_clip
from ...clip.sources import check_checkpoint_file
from ...fileio import safe_write

CLIP_PREFIX = 'sem_seg_head.predictor.clip_model.'
PREFIXES = {'sem_seg_head.predictor.transformer.': 'aggregator.',
            'upsample1.': 'upsample1.', 'upsample2.': 'upsample2.'}
RELEASED_KEYS = (CLIP_PREFIX, *PREFIXES)


def _what_is(state: dict) -> str:
    """Name the kind of a state dict that is not a CAT-Seg one, for the error message."""
    keys = list(state)
    if any(k.startswith(('visual.', 'blocks.', 'text.', 'transformer.', 'token_embedding'))
           for k in keys):
        has_text = any(k.startswith(('text.', 'transformer.', 'token_embedding')) for k in keys)
        return ('a CLIP checkpoint (image and text towers: open_clip / EVA-CLIP / a DeCLIP or '
                'DenseVLM release)' if has_text else
                'a CLIP image-tower checkpoint (e.g. a DeCLIP / DenseVLM student file)')
    if any(k.startswith(('backbone.', 'aggregator.', 'text_classifier.')) for k in keys):
        return 'a state dict of this project\'s CATSeg module (not the released format)'
    return f'no known format (first keys: {keys[:5]})'


def read_released(path: str) -> Dict[str, torch.Tensor]:
    """The ``model`` state dict of a released CAT-Seg file; a clear error for anything else."""
    check_checkpoint_file(path)
    trusted = os.environ.get('DECLIP_TRUSTED_CHECKPOINTS') == '1'
    try:
        obj = torch.load(path, map_location='cpu', weights_only=not trusted)
    except Exception as err:  # noqa: BLE001 - re-raised with the file name
        raise RuntimeError(
            f"cannot read CAT-Seg checkpoint '{path}' ({type(err).__name__}: "
            f"{str(err).strip().splitlines()[0][:200] if str(err).strip() else ''}). If it is a "
            'file you trust that holds other Python objects (detectron2 trainer state, an mmengine '
            'training checkpoint), set DECLIP_TRUSTED_CHECKPOINTS=1') from err
    if isinstance(obj, dict) and 'message_hub' in obj and isinstance(obj.get('state_dict'), dict):
        raise RuntimeError(
            f"'{path}' is an mmengine training checkpoint. The CAT-Seg model of a training run "
            f"is written next to it as catseg_model.pth when training ends: pass that file "
            "as model.checkpoint (or tools/test.py --checkpoint)")
    state = obj.get('model', obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not state:
        raise RuntimeError(f"CAT-Seg checkpoint '{path}' holds no state dict under 'model'")
    if not any(k.startswith(RELEASED_KEYS) for k in state):
        raise RuntimeError(
            f"'{path}' is not a CAT-Seg checkpoint: it is {_what_is(state)}. model.checkpoint "
            f"takes a CAT-Seg file (a dict whose 'model' entry has {CLIP_PREFIX}*, "
            "sem_seg_head.predictor.transformer.*, upsample1.*, upsample2.* keys). A CLIP / DeCLIP "
            'backbone file is the starting point of training instead: model.backbone.pretrained')
    return state


def released_to_model(state: Dict[str, torch.Tensor], model: nn.Module) -> Dict[str, torch.Tensor]:
    """Map released keys to ``model``'s (:class:`~.catseg.CATSeg`) keys; other keys keep their
    name (and so show up as unexpected)."""
    clip = {k[len(CLIP_PREFIX):]: v for k, v in state.items() if k.startswith(CLIP_PREFIX)}
    shim = SimpleNamespace(visual=model.backbone.tower.visual)
    clip, _ = to_open_clip(clip, shim)
    out = {}
    for key, value in clip.items():
        out[f'backbone.tower.{key}' if key.startswith('visual.') else f'text_classifier.clip.{key}'] = value
    for key, value in state.items():
        if key.startswith(CLIP_PREFIX):
            continue
        prefix = next((p for p in PREFIXES if key.startswith(p)), None)
        out[PREFIXES[prefix] + key[len(prefix):] if prefix else key] = value
    return out


def load_catseg_checkpoint(model: nn.Module, path: str) -> None:
    """Load a released CAT-Seg file strictly into ``model``; errors name the file and keys."""
    state = released_to_model(read_released(path), model)
    own = model.state_dict()
    own_keys = {k for k in own if not k.endswith('attn_mask')}  # rebuilt buffers
    missing = sorted(own_keys - set(state))
    unexpected = sorted(k for k in set(state) - set(own) if not k.endswith('attn_mask'))
    bad = [f'{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}'
           for k, v in state.items() if k in own and own[k].shape != v.shape]
    if missing or unexpected or bad:
        parts = [f"CAT-Seg checkpoint '{path}' does not match the model"]
        if missing:
            parts.append(f'{len(missing)} missing keys, first: {missing[:8]}')
        if unexpected:
            parts.append(f'{len(unexpected)} unexpected keys, first: {unexpected[:8]}')
        if bad:
            parts.append(f'{len(bad)} shape mismatches, first: {bad[:5]}')
        parts.append('(CLIP keys in open_clip naming). Check that the config is the one of the '
                     "file's backbone: model_name (EVA02-B-16 / ViT-B-16 / ...), guidance_layers, "
                     'the aggregator widths')
        raise RuntimeError('; '.join(parts))
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)


def released_state_dict(model: nn.Module) -> Dict[str, torch.Tensor]:
    """``model``'s weights in the released key layout (CLIP in open_clip naming)."""
    out = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu().contiguous()
        if key.startswith('backbone.tower.'):
            out[CLIP_PREFIX + key[len('backbone.tower.'):]] = value
        elif key.startswith('text_classifier.clip.'):
            out[CLIP_PREFIX + key[len('text_classifier.clip.'):]] = value
        else:
            for file_prefix, own_prefix in PREFIXES.items():
                if key.startswith(own_prefix):
                    out[file_prefix + key[len(own_prefix):]] = value
    return out


def save_released(model: nn.Module, path: str) -> str:
    """Write ``{'model': released_state_dict(model)}`` to ``path`` (complete or not at all)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with safe_write(path) as tmp:
        torch.save({'model': released_state_dict(model)}, tmp)
    return path
