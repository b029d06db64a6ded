"""CAT-Seg's image side on a :class:`DenseCLIPViT`: dense features and intermediate-block guidance.

Dense paths (``dense_path``, catseg.md A.2):

``decoupled``
    the backbone's own decoupled last block (``attn_mode`` etc. from its config): DeCLIP's
    ``encode_dense(mode='csa')`` for EVA02 / DeCLIP / DenseVLM towers (the branch hard-codes
    ``csa``; a ``qq``-distilled DeCLIP sets ``attn_mode='qq'``).
``value_cls``
    CAT-Seg's OpenAI path (``third_party/model_vpt.py``, ``dense=True``): positions resized
    bicubic (``align_corners=False``), the last block runs ``out_proj(v)`` + the block input's
    class token + ``mlp(ln_2(.))``, then ``ln_post`` and ``proj``.

Guidance: the outputs of visual blocks ``guidance_layers`` ([3, 7] B, [7, 15] L), recorded with
forward hooks while the dense path runs, patch tokens as (B, D, h, w) maps.
"""
from contextlib import contextmanager
from typing import Callable, Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..backbones.eva_vit import EVAViTTower
from ..backbones.openclip_vit import OpenCLIPViTTower

DENSE_PATHS: Dict[str, Callable] = {}


def _dense_path(name):
    def wrap(fn):
        DENSE_PATHS[name] = fn
        return fn
    return wrap


def visual_blocks(tower: nn.Module) -> nn.ModuleList:
    """The transformer blocks of a dense tower, in order."""
    if isinstance(tower, EVAViTTower):
        return tower.trunk.blocks
    if isinstance(tower, OpenCLIPViTTower):
        return tower.visual.transformer.resblocks
    raise TypeError(f'CAT-Seg has no guidance hooks for {type(tower).__name__}')


@_dense_path('decoupled')
def decoupled_features(backbone: nn.Module, img: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, E, H/p, W/p): the backbone's content features."""
    return backbone(img)[0]


@_dense_path('value_cls')
def value_cls_features(backbone: nn.Module, img: torch.Tensor) -> torch.Tensor:
    """CAT-Seg's dense OpenAI forward, (B, 3, H, W) -> (B, E, H/p, W/p)."""
    tower = backbone.tower
    if not isinstance(tower, OpenCLIPViTTower):
        raise TypeError("dense_path='value_cls' is CAT-Seg's OpenAI-CLIP path; EVA02 towers use "
                        "dense_path='decoupled'")
    v = tower.visual
    x = v.conv1(img)
    B, _, gh, gw = x.shape
    x = x.flatten(2).transpose(1, 2)
    pos = v.positional_embedding
    g0 = int(round((pos.shape[0] - 1) ** 0.5))
    if (g0, g0) != (gh, gw):
        patch = pos[1:].reshape(1, g0, g0, -1).permute(0, 3, 1, 2)
        patch = F.interpolate(patch, size=(gh, gw), mode='bicubic', align_corners=False)
        pos = torch.cat([pos[:1], patch.permute(0, 2, 3, 1).reshape(gh * gw, -1)])
    x = torch.cat([v.class_embedding.to(x.dtype).expand(B, 1, -1), x], dim=1) + pos.to(x.dtype)
    x = v.ln_pre(x)
    blocks = v.transformer.resblocks
    if not tower.batch_first:
        x = x.transpose(0, 1)
    for blk in blocks[:-1]:
        x = blk(x)
    if not tower.batch_first:
        x = x.transpose(0, 1)
    blk = blocks[-1]
    attn = blk.attn
    D = x.shape[-1]
    value = F.linear(blk.ln_1(x), attn.in_proj_weight[2 * D:], attn.in_proj_bias[2 * D:])
    out = attn.out_proj(value) + x[:, :1]
    out = out + blk.mlp(blk.ln_2(out))
    out = tower.head(out)[:, 1:]
    return out.transpose(1, 2).reshape(B, -1, gh, gw)


@contextmanager
def recording(blocks: nn.ModuleList, layers: Sequence[int], batch: int):
    """Collect the outputs of ``blocks[i]`` for ``i`` in ``layers`` as batch-first tensors."""
    outputs: List[torch.Tensor] = []

    def hook(module, args, output):
        out = output[0] if isinstance(output, tuple) else output
        outputs.append(out if out.shape[0] == batch else out.transpose(0, 1))

    handles = [blocks[i].register_forward_hook(hook) for i in layers]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def dense_and_guidance(backbone: nn.Module, img: torch.Tensor, path: str, layers: Sequence[int],
                       normalize: bool) -> Tuple[torch.Tensor, List[torch.Tensor]]:
    """Dense features (B, E, h, w) (L2-normalised per position when ``normalize``, as DeCLIP's
    ``encode_dense(normalize=True)``) and the block outputs of ``layers`` as (B, D, h, w)."""
    if path not in DENSE_PATHS:
        raise ValueError(f'dense_path must be one of {sorted(DENSE_PATHS)}, got {path!r}')
    B = img.shape[0]
    with recording(visual_blocks(backbone.tower), layers, B) as outputs:
        feats = DENSE_PATHS[path](backbone, img)
    if normalize:
        feats = F.normalize(feats, dim=1)
    h, w = feats.shape[-2:]
    maps = [o[:, -h * w:].transpose(1, 2).reshape(B, -1, h, w) for o in outputs]
    return feats, maps
