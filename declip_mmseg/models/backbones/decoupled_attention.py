"""Attention rules for the decoupled last block (ClearCLIP / SCLIP / NACLIP / DeCLIP / MaskCLIP).

Every rule maps per-head queries, keys and values of shape (B*heads, 1 + N, d)
(class token first, then the N = h * w patch tokens in row-major order), the
logit factor ``scale`` and the patch grid ``grid = (h, w)`` to attention
weights of shape (B*heads, 1 + N, 1 + N); the block then computes
``weights @ v``.  Rules are registered by name in
:data:`declip_mmseg.registry.ATTN_MODES` so a config
picks one with ``attn_mode='csa'``.

=========  ===========================================================
name       weights
=========  ===========================================================
qk         softmax(q k^T s)                (ordinary attention)
qq         softmax(q q^T s)                (ClearCLIP, DeCLIP 'qq')
kk         softmax(k k^T s)
vv         softmax(v v^T s)
csa        softmax(q q^T s) + softmax(k k^T s)   (SCLIP, DeCLIP 'csa'; rows sum to 2)
all        softmax((q q^T s + k k^T s + v v^T s) / 3)
naclip     softmax(k k^T s + omega)        (NACLIP; omega: spatial Gaussian, below)
identity   I: each token attends to itself only (MaskCLIP)
=========  ===========================================================

Each rule also has a fused form in :data:`declip_mmseg.registry.ATTN_FUSED`, the same output
through ``F.scaled_dot_product_attention`` without the (1 + N)^2 weights in memory (the CPU fast
path, :mod:`declip_mmseg.models.utils.cpu_fast`); 'all' runs as one product of the concatenated
[q, k, v] (its logits are q q^T + k k^T + v v^T).

ProxyCLIP's proxy attention is not a rule of this table: its weights come from
a separate vision model and its output lives on that model's grid; see
:mod:`declip_mmseg.models.proxy_attention`.
"""
from functools import lru_cache
from typing import Tuple

import torch
import torch.nn.functional as F

from ...registry import ATTN_FUSED, ATTN_MODES, register_attn_mode, register_fused_attn

Grid = Tuple[int, int]

# NACLIP's Gaussian width in patch units (``gaussian_std=5.`` in ``naclip.py``).
NACLIP_SIGMA = 5.0


def _self_sim(x: torch.Tensor, scale: float) -> torch.Tensor:
    return torch.bmm(x, x.transpose(1, 2)) * scale


@register_attn_mode('qk')
def _qk(q, k, v, scale, grid):
    return torch.bmm(q, k.transpose(1, 2)).mul(scale).softmax(dim=-1)


@register_attn_mode('qq')
def _qq(q, k, v, scale, grid):
    return _self_sim(q, scale).softmax(dim=-1)


@register_attn_mode('kk')
def _kk(q, k, v, scale, grid):
    return _self_sim(k, scale).softmax(dim=-1)


@register_attn_mode('vv')
def _vv(q, k, v, scale, grid):
    return _self_sim(v, scale).softmax(dim=-1)


@register_attn_mode('csa')
def _csa(q, k, v, scale, grid):
    return _self_sim(q, scale).softmax(dim=-1) + _self_sim(k, scale).softmax(dim=-1)


@register_attn_mode('all')
def _all(q, k, v, scale, grid):
    return ((_self_sim(q, scale) + _self_sim(k, scale) + _self_sim(v, scale)) / 3.0).softmax(dim=-1)


@lru_cache(maxsize=16)
def _gaussian_bias_cpu(h: int, w: int, sigma: float) -> torch.Tensor:
    rows = torch.arange(h, dtype=torch.float32).repeat_interleave(w)
    cols = torch.arange(w, dtype=torch.float32).repeat(h)
    dist2 = (rows[:, None] - rows[None]) ** 2 + (cols[:, None] - cols[None]) ** 2
    bias = torch.zeros(1 + h * w, 1 + h * w)
    bias[1:, 1:] = torch.exp(-dist2 / (2 * sigma ** 2))
    return bias


def gaussian_bias(grid: Grid, sigma: float = NACLIP_SIGMA, device=None, dtype=None) -> torch.Tensor:
    """NACLIP's additive attention bias, (1 + N, 1 + N).

    ``omega[(i, j), (k, l)] = exp(-((i-k)^2 + (j-l)^2) / (2 sigma^2))`` between
    patches (sigma in patch units, peak 1, not normalised, not truncated); the
    class token's row and column are 0.  Cast to ``dtype`` as NACLIP casts it
    to the tokens' dtype before adding.
    """
    h, w = grid
    return _gaussian_bias_cpu(int(h), int(w), float(sigma)).to(device=device, dtype=dtype)


@register_attn_mode('naclip')
def _naclip(q, k, v, scale, grid):
    logits = _self_sim(k, scale)
    return (logits + gaussian_bias(grid, NACLIP_SIGMA, logits.device, logits.dtype)).softmax(dim=-1)


@register_attn_mode('identity')
def _identity(q, k, v, scale, grid):
    n = q.shape[1]
    return torch.eye(n, dtype=q.dtype, device=q.device).expand(q.shape[0], n, n)


def _sdpa(query, key, v, scale, bias=None):
    return F.scaled_dot_product_attention(query, key, v, attn_mask=bias, scale=scale)


for _name, _operands in (('qk', lambda q, k, v: (q, k)), ('qq', lambda q, k, v: (q, q)),
                         ('kk', lambda q, k, v: (k, k)), ('vv', lambda q, k, v: (v, v))):
    register_fused_attn(_name)(
        lambda q, k, v, scale, grid, _ops=_operands: _sdpa(*_ops(q, k, v), v, scale))


@register_fused_attn('csa')
def _csa_fused(q, k, v, scale, grid):
    return _sdpa(q, q, v, scale) + _sdpa(k, k, v, scale)


@register_fused_attn('all')
def _all_fused(q, k, v, scale, grid):
    qkv = torch.cat([q, k, v], dim=-1)
    return _sdpa(qkv, qkv, v, scale / 3.0)


@register_fused_attn('naclip')
def _naclip_fused(q, k, v, scale, grid):
    return _sdpa(k, k, v, scale, gaussian_bias(grid, NACLIP_SIGMA, k.device, k.dtype))


def check_attn_mode(name: str) -> None:
    if name not in ATTN_MODES:
        raise ValueError(f"attn_mode '{name}' is unknown; choose one of {sorted(ATTN_MODES)}"
                         " (ProxyCLIP: set backbone.proxy=dict(...) and attn_mode='proxy')")


def decoupled_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                        mode: str, scale: float, grid: Grid, fused: bool = False) -> torch.Tensor:
    """Per-head output ``weights @ v`` of shape (B*heads, 1 + N, d); ``grid`` = (h, w), N = h*w.
    ``fused``: through the rule's fused kernel (:data:`ATTN_FUSED`) where it has one."""
    if q.shape[1] != 1 + grid[0] * grid[1]:
        raise ValueError(f'{q.shape[1]} tokens do not match a class token plus a {grid} grid')
    if mode == 'identity':
        return v  # identity weights: skip the N x N product
    if fused and mode in ATTN_FUSED:
        return ATTN_FUSED[mode](q, k, v, scale, grid)
    return torch.bmm(ATTN_MODES[mode](q, k, v, scale, grid), v)
