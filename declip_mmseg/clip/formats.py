"""Recognise CLIP checkpoint formats by their keys and convert them to open_clip's.

Formats (each a detector + converter in :data:`declip_mmseg.registry.CHECKPOINT_FORMATS`):

``open_clip``
    open_clip state dicts: ``visual.conv1.weight`` (OpenAI ViTs),
    ``visual.trunk.blocks.0.attn.q_proj.weight`` (EVA02 through timm), ``text.*``.
``eva_clip``
    EVA-CLIP's own files (``EVA02_CLIP_B_psz16_s8B.pt``, ``EVA02_CLIP_L_336_psz14_s6B.pt``)
    and the EVA checkpoints fine-tuned by DeCLIP, DenseVLM and CLIPSelf, which keep
    EVA-CLIP's naming: ``visual.blocks.N.attn.q_proj.weight``, ``visual.blocks.N.attn.q_bias``,
    ``visual.blocks.N.mlp.w1/w2/w3/ffn_ln``, ``visual.head``, ``text.*``; also the same
    without the ``visual.`` prefix (files that hold only the image tower).
``split_qkv``
    OpenAI-architecture CLIPs whose attention keeps separate ``attn.q_proj_weight``,
    ``attn.k_proj_weight``, ``attn.v_proj_weight`` (CAT-Seg's ``model_vpt.py``, inside its
    released ``model_base.pth`` / ``model_large.pth``): packed into open_clip's ``in_proj_weight``.

Wrappers (``state_dict`` / ``model`` / ``module`` keys, ``module.`` prefixes) are
removed by :func:`declip_mmseg.clip.sources.load_checkpoint_file` first.
"""
import re
from typing import Dict

import torch
from timm.models.eva import checkpoint_filter_fn

from ..registry import CHECKPOINT_FORMATS, register_checkpoint_format

_EVA_BLOCK_KEY = re.compile(r'^(visual\.)?blocks\.\d+\.attn\.(q_proj|qkv)\.weight$')


def _is_eva_clip(state_dict: Dict) -> bool:
    return any(_EVA_BLOCK_KEY.match(k) for k in state_dict)


@register_checkpoint_format('eva_clip', _is_eva_clip)
def eva_clip_to_open_clip(state_dict: Dict[str, torch.Tensor], model: torch.nn.Module):
    """EVA-CLIP naming -> open_clip's ``visual.trunk.*`` (timm Eva) naming.

    The image tower's keys are renamed with timm's own EVA converter
    (``q_bias`` -> ``q_proj.bias``, ``inner_attn_ln`` -> ``norm``, ``mlp.w1/w2/w3``
    -> ``fc1_g/fc1_x/fc2``, ``ffn_ln`` -> ``mlp.norm``; RoPE tables, which are
    recomputed, dropped); text-tower keys are already open_clip's.
    """
    trunk = getattr(getattr(model, 'visual', None), 'trunk', None)
    if trunk is None:
        raise RuntimeError('an EVA-CLIP checkpoint needs an EVA02 architecture '
                           "(model_name 'EVA02-B-16' or 'EVA02-L-14-336')")
    prefix = 'visual.' if any(k.startswith('visual.') for k in state_dict) else ''

    def is_visual(key):
        return key.startswith(prefix) if prefix else not key.startswith(('text.', 'logit_'))

    visual = {k[len(prefix):]: v for k, v in state_dict.items() if is_visual(k)}
    out = {f'visual.trunk.{k}': v for k, v in checkpoint_filter_fn(visual, trunk).items()}
    out.update({k: v for k, v in state_dict.items()
                if not is_visual(k) and k != 'text.attn_mask'})  # attn_mask: a rebuilt buffer
    return out


def _has_split_qkv(state_dict: Dict) -> bool:
    return any(k.endswith('.attn.q_proj_weight') for k in state_dict)


@register_checkpoint_format('split_qkv', _has_split_qkv)
def split_qkv_to_open_clip(state_dict: Dict[str, torch.Tensor], model=None):
    """``attn.{q,k,v}_proj_weight`` (D, D) each -> ``attn.in_proj_weight`` (3D, D), q k v order."""
    out = {}
    for key, value in state_dict.items():
        if key.endswith('.attn.q_proj_weight'):
            stem = key[:-len('q_proj_weight')]
            out[stem + 'in_proj_weight'] = torch.cat(
                [value, state_dict[stem + 'k_proj_weight'], state_dict[stem + 'v_proj_weight']])
        elif not key.endswith(('.attn.k_proj_weight', '.attn.v_proj_weight')):
            out[key] = value
    return out


def to_open_clip(state_dict: Dict[str, torch.Tensor], model: torch.nn.Module):
    """Convert any known format; returns ``(state_dict, format name)``."""
    for name, (detect, convert) in CHECKPOINT_FORMATS.items():
        if detect(state_dict):
            return convert(state_dict, model), name
    return state_dict, 'open_clip'
