"""Fast CPU inference: the towers' matrix products through oneDNN with packed weights.

While :func:`cpu_fast_path` is active (the segmentor enters it around its backbone on the CPU,
``model.cpu_fast_path=True``), every ``F.linear`` whose weight is a model parameter and whose
input is a CPU tensor runs as oneDNN's ``mkldnn._linear_pointwise`` on a weight reordered once
by ``mkldnn._reorder_linear_weight`` (the prepacking torch's inductor does when freezing) and
kept in a per-model :class:`PackedWeights`. torch's default CPU GEMM (``addmm``) takes its AVX2
code on AMD CPUs and is slower on the towers' shapes. Attention runs through
``F.scaled_dot_product_attention``: the CLIP blocks (:mod:`..backbones.openclip_vit`), the last
block's rules (:data:`declip_mmseg.registry.ATTN_FUSED`); timm's EVA / DINO blocks already do.

Under CPU autocast to bf16 the inputs and packed weights are bf16. With gradients on, on CUDA,
or where torch lacks the oneDNN ops, ``F.linear`` runs unchanged.
"""
import threading
import weakref
from contextlib import contextmanager
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

_STATE = threading.local()


def onednn_linear_available() -> bool:
    """Whether this torch has oneDNN's packed linear (``mkldnn._linear_pointwise``)."""
    ops = torch.ops.mkldnn
    return (torch.backends.mkldnn.is_available() and hasattr(ops, '_linear_pointwise')
            and hasattr(ops, '_reorder_linear_weight'))


def fast_path_active(x: Optional[torch.Tensor] = None) -> bool:
    """Inside :func:`cpu_fast_path` (and ``x``, if given, is a CPU tensor)."""
    return getattr(_STATE, 'active', False) and (x is None or x.device.type == 'cpu')


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    if torch.is_autocast_enabled('cpu') and torch.get_autocast_dtype('cpu') == torch.bfloat16:
        return torch.bfloat16
    return x.dtype


class PackedWeights:
    """oneDNN-packed copies of a model's linear weights, made at first use.

    An entry is rebuilt when its parameter changes (in-place update, new storage, dtype):
    keyed by the parameter's identity, checked against its storage and version counter.
    """

    def __init__(self):
        self._store: Dict[int, tuple] = {}
        self._unsupported = set()  # dtypes this CPU's oneDNN cannot pack (bf16 without AVX-512)

    def __len__(self) -> int:
        return len(self._store)

    def packed(self, weight: torch.Tensor, bias: Optional[torch.Tensor], dtype: torch.dtype,
               rows: int):
        key = (id(weight), dtype)
        stamp = (weight.data_ptr(), weight._version, tuple(weight.shape))
        hit = self._store.get(key)
        if hit is None or hit[0]() is not weight or hit[1] != stamp:
            w = torch.ops.mkldnn._reorder_linear_weight(weight.detach().to(dtype).contiguous(), rows)
            b = None if bias is None else bias.detach().to(dtype)
            hit = (weakref.ref(weight), stamp, w, b, None if bias is None else weakref.ref(bias))
            self._store[key] = hit
        if (bias is None) != (hit[4] is None) or (bias is not None and hit[4]() is not bias):
            return hit[2], None if bias is None else bias.detach().to(dtype)
        return hit[2], hit[3]

    def linear(self, x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
               attr: str = 'none') -> Optional[torch.Tensor]:
        """``F.linear(x, weight, bias)`` through oneDNN (``attr='gelu'``: GELU (erf) fused
        on the output), or None where it does not apply."""
        if (x.device.type != 'cpu' or torch.is_grad_enabled() or not isinstance(weight, nn.Parameter)
                or x.dim() < 2 or x.numel() == 0):
            return None
        dtype = _compute_dtype(x)
        if (dtype not in (torch.float32, torch.bfloat16) or dtype in self._unsupported
                or weight.dtype not in (torch.float32, torch.bfloat16)):
            return None
        try:
            w, b = self.packed(weight, bias, dtype, x.numel() // x.shape[-1])
        except RuntimeError:  # e.g. "bf16 path needs ... avx512bw": the eager op instead
            self._unsupported.add(dtype)
            return None
        algorithm = 'none' if attr == 'gelu' else ''
        return torch.ops.mkldnn._linear_pointwise(x.to(dtype).contiguous(), w, b, attr, [], algorithm)


class _OneDNNLinearMode(TorchFunctionMode):
    """Sends ``F.linear`` calls to :meth:`PackedWeights.linear`."""

    def __init__(self, weights: PackedWeights):
        super().__init__()
        self.weights = weights

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.linear:
            out = self.weights.linear(*args, **kwargs)
            if out is not None:
                return out
        return func(*args, **kwargs)


def fused_mlp(fc1: nn.Linear, act: nn.Module, fc2: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``fc2(act(fc1(x)))`` with fewer full-size temporaries on the fast path: GELU (erf)
    fused into oneDNN's ``fc1``, QuickGELU (``x * sigmoid(1.702 x)``) in place."""
    weights = getattr(_STATE, 'weights', None)
    if weights is not None and type(act) is nn.GELU and act.approximate == 'none':
        h = weights.linear(x, fc1.weight, fc1.bias, attr='gelu')
        if h is not None:
            return fc2(h)
    if type(act).__name__ == 'QuickGELU' and fast_path_active(x):
        h = fc1(x)
        return fc2(h.mul_(torch.mul(h, 1.702).sigmoid_()))
    return fc2(act(fc1(x)))


@contextmanager
def cpu_fast_path(weights: Optional[PackedWeights]):
    """Run the towers' CPU inference through oneDNN (packed ``weights``) and fused attention."""
    before = getattr(_STATE, 'active', False), getattr(_STATE, 'weights', None)
    _STATE.active = True
    _STATE.weights = weights if weights is not None and onednn_linear_available() else None
    try:
        if weights is not None and onednn_linear_available():
            with _OneDNNLinearMode(weights):
                yield
        else:
            yield
    finally:
        _STATE.active, _STATE.weights = before
