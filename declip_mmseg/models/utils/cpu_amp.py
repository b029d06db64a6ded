"""Is reduced-precision autocast fast on this CPU?

CPU autocast (``model.cpu_amp_dtype``) only pays off where the CPU computes bf16 / fp16 dot
products natively: x86 with AMX or AVX512-BF16 (bf16), AMX-FP16 or AVX512-FP16 (fp16); ARM
where oneDNN has bf16 kernels. Elsewhere oneDNN converts every operand back to fp32 and the
conversions make autocast slower than fp32 (measured: bf16 3.6x faster than fp32 on an AMX
Xeon, 3.8x slower on an AMD EPYC without them).

The instructions are necessary but not enough: an Intel Xeon without AMX (or with AMX hidden
by a hypervisor) has AVX512-BF16, but issues its bf16 dot products on one port, at about half
the fp32 rate (measured: a oneDNN linear of the ViT-B MLP shape, 1570x768 by 768x3072, 165
GFLOP/s in bf16 against 295 in fp32 on a Xeon family 6 model 207, so bf16 autocast made the
demo 1.66x slower); AMD Zen 4 / 5 run it at twice the fp32 rate. :func:`cpu_amp_is_fast` is
the instruction rule; :func:`measured_amp_speedup` times one backbone-sized product once per
process, and ``cpu_amp_dtype='auto'`` (:func:`auto_cpu_amp_dtype`) needs both.
"""
import functools
import logging
import math
import platform
import time
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log

_WARNED = set()

# 'auto' takes bf16 only where it measured at least this much faster than fp32: the probe is
# one product timed in a few ms, so a margin keeps noise (and the conversions autocast adds
# around the products, not in the probe) from turning a tie into a slower demo.
AUTO_MIN_SPEEDUP = 1.2


def _probe(fn_name: str, module=None) -> bool:
    fn = getattr(module if module is not None else torch.cpu, fn_name, None)
    try:
        return bool(fn()) if fn is not None else False
    except Exception:  # noqa: BLE001 - an unknown probe counts as "not there"
        return False


def cpu_features() -> Dict[str, object]:
    """What torch reports about this CPU's reduced-precision instructions."""
    mkldnn = torch.ops.mkldnn
    return {
        'machine': platform.machine().lower(),
        'mkldnn': torch.backends.mkldnn.is_available(),
        'amx_bf16': _probe('_is_amx_tile_supported'),
        'avx512_bf16': _probe('_is_avx512_bf16_supported'),
        'amx_fp16': _probe('_is_amx_fp16_supported'),
        'mkldnn_bf16': _probe('_is_mkldnn_bf16_supported', mkldnn),  # avx512 core (x86) / ARM bf16
        'mkldnn_fp16': _probe('_is_mkldnn_fp16_supported', mkldnn),  # avx512_fp16 / AMX-FP16
    }


def cpu_amp_is_fast(dtype: torch.dtype, features: Optional[dict] = None) -> Tuple[bool, str]:
    """``(fast, why)`` for CPU autocast to ``dtype`` (torch.bfloat16 or torch.float16), from
    the CPU's instructions alone (see :func:`measured_amp_speedup` for the measured rate)."""
    f = cpu_features() if features is None else features
    x86 = f['machine'] in ('x86_64', 'amd64', 'i386', 'i686')
    if not f['mkldnn']:
        return False, 'torch was built without oneDNN (mkldnn)'
    if dtype == torch.bfloat16:
        if f['amx_bf16']:
            return True, 'AMX bf16 tiles'
        if f['avx512_bf16']:
            return True, 'AVX512-BF16 instructions'
        if not x86 and f['mkldnn_bf16']:
            return True, f"oneDNN bf16 kernels for {f['machine']}"
        return False, 'no AMX or AVX512-BF16 instructions (bf16 is emulated through fp32)'
    if dtype == torch.float16:
        if f['amx_fp16'] or f['mkldnn_fp16']:
            return True, 'native fp16 instructions (AMX-FP16 / AVX512-FP16)'
        return False, 'no AMX-FP16 or AVX512-FP16 instructions (fp16 is emulated through fp32)'
    return True, 'fp32'


def _linear(dtype: torch.dtype, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, onednn: bool):
    """``x @ w.T + b`` in ``dtype`` as the CPU fast path runs it (oneDNN, packed weight), or
    as plain ``F.linear``; returns a no-argument call."""
    x, w, b = x.to(dtype), w.to(dtype), b.to(dtype)
    if onednn:
        packed = torch.ops.mkldnn._reorder_linear_weight(w, x.shape[0])
        return lambda: torch.ops.mkldnn._linear_pointwise(x, packed, b, 'none', [], '')
    return lambda: F.linear(x, w, b)


@functools.lru_cache(maxsize=None)
def measured_amp_speedup(dtype: torch.dtype, rows: int = 394, repeats: int = 3,
                         budget_s: float = 0.1) -> float:
    """fp32 time / ``dtype`` time of one linear of a backbone shape on this CPU, measured once
    per process (``functools.lru_cache``; ``measured_amp_speedup.cache_info()`` counts).

    A (``rows`` x 768) by (768 x 3072) product (ViT-B's first MLP linear on two 224 windows
    of 197 tokens, 1.9 GFLOP) through oneDNN with a packed weight, as :mod:`.cpu_fast` runs
    the towers, in fp32 and in ``dtype``, interleaved: a warm-up call each, then the best of
    ``repeats`` calls (fewer once a dtype has used ``budget_s``): 0.08 s on 2 quiet cores
    (bf16 0.55x fp32 on a Xeon without AMX, the same as at 785 rows). Falls back to
    ``F.linear`` where the oneDNN ops are missing or refuse ``dtype`` (bf16 without AVX-512);
    0.0 if that fails too. > 1: ``dtype`` is faster.
    """
    if dtype == torch.float32:
        return 1.0
    gen = torch.Generator().manual_seed(0)  # leaves the global RNG alone
    x, w, b = (torch.randn(*s, generator=gen) for s in ((rows, 768), (3072, 768), (3072,)))
    for onednn in (True, False):
        try:
            if onednn and not hasattr(torch.ops.mkldnn, '_linear_pointwise'):
                continue
            calls = [_linear(torch.float32, x, w, b, onednn), _linear(dtype, x, w, b, onednn)]
            with torch.no_grad():
                for call in calls:  # warm-up: oneDNN builds its kernels on the first call
                    call()
                best, spent = [math.inf, math.inf], [0.0, 0.0]
                for _ in range(repeats):
                    for i, call in enumerate(calls):
                        if spent[i] > budget_s and best[i] < math.inf:
                            continue
                        start = time.perf_counter()
                        call()
                        took = time.perf_counter() - start
                        best[i], spent[i] = min(best[i], took), spent[i] + took
            return best[0] / best[1]
        except (RuntimeError, TypeError, AttributeError):
            continue
    return 0.0


def _speedup_note(name: str, speedup: float) -> str:
    return f'{name} products measured {speedup:.2f}x fp32 on this CPU'


def auto_cpu_amp_dtype() -> Optional[torch.dtype]:
    """``cpu_amp_dtype='auto'``: torch.bfloat16 where the CPU has native bf16
    (:func:`cpu_amp_is_fast`) AND bf16 products measured at least :data:`AUTO_MIN_SPEEDUP`
    times faster than fp32 (:func:`measured_amp_speedup`; not on Intel without AMX), None
    (fp32) elsewhere; the choice is logged once."""
    fast, why = cpu_amp_is_fast(torch.bfloat16)
    if fast:
        speedup = measured_amp_speedup(torch.bfloat16)
        fast = speedup >= AUTO_MIN_SPEEDUP
        why = f"{why}; {_speedup_note('bf16', speedup)}"
    if 'auto' not in _WARNED:
        _WARNED.add('auto')
        print_log(f"model.cpu_amp_dtype='auto': CPU inference in {'bf16' if fast else 'fp32'} "
                  f'({why}); set it to None for fp32, or to a dtype', logger='current',
                  level=logging.INFO)
    return torch.bfloat16 if fast else None


def warn_if_slow_cpu_amp(dtype: Optional[torch.dtype],
                         setting: str = 'model.cpu_amp_dtype') -> bool:
    """Warn once per dtype when CPU autocast to ``dtype`` will be slower than fp32: no native
    instructions, or instructions that measured slower than fp32 (:func:`measured_amp_speedup`
    < 1, e.g. bf16 on an Intel Xeon without AMX); returns whether it is fast."""
    if dtype is None or dtype == torch.float32:
        return True
    fast, why = cpu_amp_is_fast(dtype)
    name = str(dtype).replace('torch.', '')
    measured = False
    if fast:
        speedup = measured_amp_speedup(dtype)
        fast, measured = speedup >= 1.0, True
        why = f'it has {why}, but {_speedup_note(name, speedup)}'
    if not fast and dtype not in _WARNED:
        _WARNED.add(dtype)
        where = ('Intel Xeon with AMX, AMD Zen 4 or newer' if dtype == torch.bfloat16
                 else 'Intel Xeon with AMX-FP16 or AVX512-FP16')
        advice = (f'it is fast only where {name} products run faster than fp32 ({where}; Intel '
                  f'CPUs without AMX run bf16 at about half the fp32 rate)' if measured else
                  f'it is fast only on CPUs with native {name} instructions ({where})')
        print_log(f'{setting}={name!r} will likely be SLOWER than fp32 on this CPU: {why}. '
                  f'Leave {setting}=None (fp32) here; {advice}.',
                  logger='current', level=logging.WARNING)
    return fast
