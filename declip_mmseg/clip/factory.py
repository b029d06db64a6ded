"""A CLIP from a model name and a weight source: open_clip models, strict loading, export.

Two traps of open_clip 3.x are handled here instead of being left to users:

* The ``openai`` weights were trained with QuickGELU, but ``ViT-B-16`` names a GELU
  architecture; open_clip only warns, and every dense feature is then slightly wrong. QuickGELU
  is switched on whenever the tag asks for it.
* A missing file, a truncated download or a checkpoint of another architecture fails with a
  message that names the file and the fix (:mod:`.sources`, :mod:`.architecture`).

Checkpoint formats other than open_clip's are converted by :mod:`.formats`.
"""
import contextlib
import json
import logging
import os.path as osp
import tempfile
import warnings
from typing import Dict, Optional

import open_clip
import torch
from open_clip.factory import resize_pos_embed, resize_text_pos_embed
from timm.models import is_model, register_model
from timm.models.eva import Eva

from ..fileio import safe_write
from .architecture import architecture_error, architecture_of, mismatch
from .formats import to_open_clip
from .sources import (
    LOCAL_FILE_HINT,
    WeightsUnavailableError,
    check_checkpoint_file,
    check_finite,
    check_tag_available,
    check_weight_source,
    load_checkpoint_file,
    looks_like_path,
    tag_needs_quick_gelu,
)


def resolve_model_name(model_name: str) -> str:
    """open_clip architecture name.

    A path to an open_clip architecture JSON file is registered with open_clip
    first and named by its file stem. Its ``vision_cfg`` may define a new timm
    EVA variant: ``"timm_model_name": "my_eva", "timm_eva_args": {...}`` (the
    keyword arguments of ``timm.models.eva.Eva``).
    """
    if model_name.endswith('.json'):
        if not osp.isfile(model_name):
            raise FileNotFoundError(f"architecture file '{model_name}' does not exist")
        with open(model_name) as f:
            cfg = json.load(f)
        eva_args = cfg.get('vision_cfg', {}).pop('timm_eva_args', None)
        if eva_args is not None:
            _register_timm_eva(cfg['vision_cfg']['timm_model_name'], eva_args)
        stem = osp.splitext(osp.basename(model_name))[0]
        folder = tempfile.mkdtemp(prefix='declip_arch_')
        with open(osp.join(folder, f'{stem}.json'), 'w') as f:
            json.dump(cfg, f)
        open_clip.add_model_config(osp.join(folder, f'{stem}.json'))
        model_name = stem
    if model_name not in open_clip.list_models():
        raise ValueError(
            f"Unknown CLIP architecture '{model_name}'. Use one of open_clip's "
            f"model names, e.g. 'ViT-B-16', 'ViT-L-14', 'ViT-L-14-336', "
            f"'EVA02-B-16' (see open_clip.list_models()), or the path of an "
            f"architecture JSON file.")
    return model_name


def _register_timm_eva(name: str, args: dict) -> None:
    if is_model(name):
        return

    def create(pretrained=False, **kwargs):
        for key in ('pretrained_cfg', 'pretrained_cfg_overlay', 'cache_dir'):
            kwargs.pop(key, None)
        return Eva(**dict(args, **kwargs))
    create.__name__ = name
    create.__module__ = __name__
    register_model(create)


def describe_key_mismatch(path: str, missing, unexpected, limit: int = 8) -> str:
    """One message naming the file and the first bad keys."""
    parts = [f"Checkpoint '{path}' does not match the model."]
    if missing:
        parts.append(f"{len(missing)} missing keys, first: {list(missing)[:limit]}.")
    if unexpected:
        parts.append(
            f"{len(unexpected)} unexpected keys, first: {list(unexpected)[:limit]}.")
    parts.append("Check that `model_name` is the architecture the file was "
                 "trained with (e.g. 'ViT-B-16' vs 'ViT-L-14').")
    return ' '.join(parts)


EXPORT_FIX = ('training diverged (a NaN / Inf loss or gradient) and nothing was written; resume '
              'from a checkpoint saved before that with a lower learning rate, or train in fp32')

WEIGHT_KEYS = ('model_name', 'pretrained', 'checkpoint', 'quick_gelu')


def weight_source(cfg: Dict) -> Dict:
    """The CLIP weight settings of a config dict (a backbone's): ``model_name``, ``pretrained``,
    ``checkpoint``, ``quick_gelu``, those it has. Text towers, teachers and exports take the
    same weights from it."""
    return {key: cfg[key] for key in WEIGHT_KEYS if key in cfg}


def build_clip(model_name: str, pretrained: Optional[str] = None,
               checkpoint: Optional[str] = None,
               quick_gelu: Optional[bool] = None) -> torch.nn.Module:
    """Create an open_clip CLIP model, eval mode, fp32, on the CPU.

    Args:
        model_name: open_clip architecture name, e.g. ``'ViT-B-16'``,
            ``'EVA02-B-16'``, or the path of an open_clip architecture JSON file.
        pretrained: open_clip tag, path of a full checkpoint file (open_clip or
            EVA-CLIP format, detected by its keys), or None for random weights.
            Loaded strictly: every key of the model must be in the file.
        checkpoint: a second file loaded over ``pretrained``, e.g. fine-tuned
            weights of DeCLIP / DenseVLM / CLIPSelf. It may hold only the
            image tower; the text tower then stays ``pretrained``'s.
        quick_gelu: force QuickGELU on or off; None decides from the tag
            (``openai`` weights need it) or from a ``-quickgelu`` model name.
    """
    check_weight_source(pretrained, 'pretrained')
    check_weight_source(checkpoint, 'checkpoint')
    model_name = resolve_model_name(model_name)
    kwargs = {}
    if pretrained and not looks_like_path(pretrained):
        if quick_gelu is None:
            quick_gelu = tag_needs_quick_gelu(model_name, pretrained)
    elif pretrained:
        check_checkpoint_file(pretrained)
    if checkpoint:
        check_checkpoint_file(checkpoint)
    if quick_gelu:
        kwargs['force_quick_gelu'] = True

    if pretrained and not looks_like_path(pretrained):
        check_tag_available(model_name, pretrained)
        try:
            model = open_clip.create_model(model_name, pretrained=pretrained, **kwargs)
        except (RuntimeError, OSError) as err:
            if 'download' in str(err).lower() or isinstance(err, OSError):
                raise WeightsUnavailableError(
                    f"Could not fetch the '{pretrained}' weights of '{model_name}' "
                    f"({type(err).__name__}: {str(err).splitlines()[0][:200]}). "
                    f"{LOCAL_FILE_HINT}") from err
            raise
    else:
        with _quiet_open_clip():  # it warns "initialized randomly"; we load next
            model = open_clip.create_model(model_name, pretrained=None, **kwargs)
        if pretrained:
            load_weights(model, pretrained, over_base=False, model_name=model_name)
    if checkpoint:
        load_weights(model, checkpoint, over_base=bool(pretrained), model_name=model_name)
    return model.eval().float()


def load_weights(model: torch.nn.Module, path: str, over_base: bool,
                 model_name: Optional[str] = None) -> str:
    """Load a checkpoint file of any known format into ``model``; returns the format.

    A file of another architecture (read from its shapes) is an error naming the
    architecture it holds. Unexpected keys are always an error. Missing keys are an
    error too, except text-tower keys when ``over_base`` (the file is applied over
    full weights).
    """
    model_name = model_name or getattr(model, 'declip_model_name', None) or '?'
    raw = load_checkpoint_file(path)
    try:
        state_dict, fmt = to_open_clip(raw, model)
    except RuntimeError as err:
        raise RuntimeError(f"Checkpoint '{path}': {err}; model_name is '{model_name}'") from err
    file_info, model_info = architecture_of(state_dict), architecture_of(model.state_dict())
    if mismatch(file_info, model_info):
        raise RuntimeError(architecture_error(path, model_name, file_info, model_info))
    if file_info.get('image_size') and model_info.get('image_size') and \
            file_info['image_size'] != model_info['image_size']:
        warnings.warn(
            f"Checkpoint '{path}' has position embeddings for {file_info['image_size']} px "
            f"input, model_name '{model_name}' for {model_info['image_size']} px: they are "
            "resized (open_clip's rule). If the file is another architecture (e.g. ViT-L-14-336 "
            "vs ViT-L-14), pass that model_name.", stacklevel=2)
    state_dict = _adapt_open_clip_state_dict(model, state_dict, path)
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    visual_missing = [k for k in missing if k.startswith('visual.')]
    if unexpected or visual_missing or (missing and not over_base):
        hint = ''
        if missing and not visual_missing and not unexpected:
            hint = (f" The file holds only the image tower ({fmt} format): pass the base "
                    f"CLIP as `pretrained` and this file as `checkpoint`.")
        raise RuntimeError(describe_key_mismatch(path, missing, unexpected) + hint)
    return fmt


@contextlib.contextmanager
def _quiet_open_clip():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _adapt_open_clip_state_dict(model: torch.nn.Module, state_dict: dict, path: str) -> dict:
    """Apply open_clip's own compatibility fixes and check tensor shapes."""
    if 'logit_scale' in state_dict and state_dict['logit_scale'].ndim != model.logit_scale.ndim:
        state_dict['logit_scale'] = state_dict['logit_scale'].reshape(model.logit_scale.shape)
    if getattr(model, 'logit_bias', None) is None:
        state_dict.pop('logit_bias', None)
    resize_pos_embed(state_dict, model)
    resize_text_pos_embed(state_dict, model)
    own = model.state_dict()
    bad = [f'{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}'
           for k, v in state_dict.items() if k in own and own[k].shape != v.shape]
    if bad:
        raise RuntimeError(
            f"Checkpoint '{path}' does not fit the model ({len(bad)} shape "
            f"mismatches, first: {bad[:5]}). Check `model_name`.")
    return state_dict




def detach_visual(clip: torch.nn.Module) -> torch.nn.Module:
    """Take the image tower out of an open_clip model and return it; ``clip`` keeps the text
    tower and ``logit_scale`` (so one model build serves an image tower and a text encoder)."""
    visual = clip.visual
    clip.visual = None
    return visual


def blend(trained: Dict[str, torch.Tensor], initial: Dict[str, torch.Tensor],
          alpha: Optional[float]) -> Dict[str, torch.Tensor]:
    """``alpha * trained + (1 - alpha) * initial`` on floating tensors (DeCLIP's and DenseVLM's
    weight ensembling at save time); ``alpha=None`` returns ``trained``."""
    if alpha is None:
        return trained
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    return {k: alpha * v.float() + (1 - alpha) * initial[k].float() if v.is_floating_point() else v
            for k, v in trained.items()}


def save_clip(text_clip: torch.nn.Module, visual_state: Dict[str, torch.Tensor], path: str) -> str:
    """Write a whole CLIP in open_clip's format: the image tower's ``visual_state`` (keys of
    ``clip.visual``) over ``text_clip`` (a model after :func:`detach_visual`). The file appears
    complete or not at all (:func:`safe_write`); it loads with
    ``open_clip.create_model(name, pretrained=path)``. Weights with NaN / Inf are refused
    (:class:`NonFiniteWeightsError`) and nothing is written."""
    state = {f'visual.{k}': v.detach().cpu().contiguous() for k, v in visual_state.items()}
    state.update({k: v.detach().cpu().contiguous() for k, v in text_clip.state_dict().items()})
    check_finite(state, f"refusing to export '{path}'", EXPORT_FIX)
    with safe_write(path) as tmp:
        torch.save(state, tmp)
    return path
