"""Is reduced-precision autocast fast on this CPU?

CPU autocast (``model.cpu_amp_dtype``) only pays off where the CPU computes bf16 / fp16 dot
products natively: x86 with AMX or AVX512-BF16 (bf16), AMX-FP16 or AVX512-FP16 (fp16); ARM
where oneDNN has bf16 kernels. Elsewhere oneDNN converts every operand back to fp32 and the
conversions make autocast slower than fp32 (measured: bf16 3.6x faster than fp32 on an AMX
Xeon, 3.8x slower on an AMD EPYC without them).
"""
import logging
import platform
from typing import Dict, Optional, Tuple

import torch
from mmengine.logging import print_log

_WARNED = set()


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
    """``(fast, why)`` for CPU autocast to ``dtype`` (torch.bfloat16 or torch.float16)."""
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


def auto_cpu_amp_dtype() -> Optional[torch.dtype]:
    """``cpu_amp_dtype='auto'``: torch.bfloat16 where the CPU has native bf16, None (fp32)
    elsewhere; the choice is logged once."""
    fast, why = cpu_amp_is_fast(torch.bfloat16)
    if 'auto' not in _WARNED:
        _WARNED.add('auto')
        print_log(f"model.cpu_amp_dtype='auto': CPU inference in {'bf16' if fast else 'fp32'} "
                  f'({why}); set it to None for fp32, or to a dtype', logger='current',
                  level=logging.INFO)
    return torch.bfloat16 if fast else None


def warn_if_slow_cpu_amp(dtype: Optional[torch.dtype],
                         setting: str = 'model.cpu_amp_dtype') -> bool:
    """Warn once per dtype when CPU autocast to ``dtype`` will be slower than fp32;
    returns whether it is fast."""
    if dtype is None:
        return True
    fast, why = cpu_amp_is_fast(dtype)
    if not fast and dtype not in _WARNED:
        _WARNED.add(dtype)
        name = str(dtype).replace('torch.', '')
        where = ('Intel Xeon with AMX, AMD Zen 4 or newer' if dtype == torch.bfloat16
                 else 'Intel Xeon with AMX-FP16 or AVX512-FP16')
        print_log(f'{setting}={name!r} will likely be SLOWER than fp32 on this CPU: {why}. '
                  f'Leave {setting}=None (fp32) here; it is fast only on CPUs with native '
                  f'{name} instructions ({where}).',
                  logger='current', level=logging.WARNING)
    return fast
