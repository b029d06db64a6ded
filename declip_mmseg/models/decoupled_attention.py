"""Attention rules for the decoupled last block (ClearCLIP / SCLIP / DeCLIP).

Every rule maps per-head queries, keys and values of shape (B*heads, N, d)
and a logit factor ``scale`` to attention weights of shape (B*heads, N, N);
the block then computes ``weights @ v``.  Rules are registered by name in
``ATTN_MODES`` so a config picks one with ``attn_mode='csa'``.

=========  ===========================================================
name       weights
=========  ===========================================================
qk         softmax(q k^T s)                (ordinary attention)
qq         softmax(q q^T s)                (ClearCLIP, DeCLIP 'qq')
kk         softmax(k k^T s)
vv         softmax(v v^T s)
csa        softmax(q q^T s) + softmax(k k^T s)   (SCLIP, DeCLIP 'csa')
all        softmax((q q^T s + k k^T s + v v^T s) / 3)
identity   I: each token attends to itself only (MaskCLIP)
=========  ===========================================================
"""
from typing import Callable, Dict

import torch

Rule = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float], torch.Tensor]
ATTN_MODES: Dict[str, Rule] = {}


def register_attn_mode(name: str):
    def wrap(fn: Rule) -> Rule:
        ATTN_MODES[name] = fn
        return fn
    return wrap


def _self_sim(x: torch.Tensor, scale: float) -> torch.Tensor:
    return torch.bmm(x, x.transpose(1, 2)) * scale


@register_attn_mode('qk')
def _qk(q, k, v, scale):
    return torch.bmm(q, k.transpose(1, 2)).mul(scale).softmax(dim=-1)


@register_attn_mode('qq')
def _qq(q, k, v, scale):
    return _self_sim(q, scale).softmax(dim=-1)


@register_attn_mode('kk')
def _kk(q, k, v, scale):
    return _self_sim(k, scale).softmax(dim=-1)


@register_attn_mode('vv')
def _vv(q, k, v, scale):
    return _self_sim(v, scale).softmax(dim=-1)


@register_attn_mode('csa')
def _csa(q, k, v, scale):
    return _self_sim(q, scale).softmax(dim=-1) + _self_sim(k, scale).softmax(dim=-1)


@register_attn_mode('all')
def _all(q, k, v, scale):
    return ((_self_sim(q, scale) + _self_sim(k, scale) + _self_sim(v, scale)) / 3.0).softmax(dim=-1)


@register_attn_mode('identity')
def _identity(q, k, v, scale):
    n = q.shape[1]
    return torch.eye(n, dtype=q.dtype, device=q.device).expand(q.shape[0], n, n)


def check_attn_mode(name: str) -> None:
    if name not in ATTN_MODES:
        raise ValueError(f"attn_mode '{name}' is unknown; choose one of {sorted(ATTN_MODES)}")


def decoupled_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                        mode: str, scale: float) -> torch.Tensor:
    """Per-head output ``weights @ v`` of shape (B*heads, N, d)."""
    if mode == 'identity':
        return v  # identity weights: skip the N x N product
    return torch.bmm(ATTN_MODES[mode](q, k, v, scale), v)
