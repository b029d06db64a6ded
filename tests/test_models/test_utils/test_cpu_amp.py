"""models/utils/cpu_amp.py: when CPU autocast is used, and its one-time warning."""
import math
import os.path as osp

import pytest
import torch

from declip_mmseg.models.utils import cpu_amp

# -- CPU autocast speed ------------------------------------------------------------------------
AMX_XEON = dict(machine='x86_64', mkldnn=True, amx_bf16=True, avx512_bf16=True, amx_fp16=True,
                mkldnn_bf16=True, mkldnn_fp16=True)


EPYC_AVX2 = dict(machine='x86_64', mkldnn=True, amx_bf16=False, avx512_bf16=False,
                 amx_fp16=False, mkldnn_bf16=False, mkldnn_fp16=False)


AVX512_NO_BF16 = dict(EPYC_AVX2, mkldnn_bf16=True)  # e.g. Skylake-SP: bf16 emulated


GRAVITON3 = dict(EPYC_AVX2, machine='aarch64', mkldnn_bf16=True)


@pytest.mark.parametrize('features, dtype, fast', [
    (AMX_XEON, torch.bfloat16, True), (AMX_XEON, torch.float16, True),
    (EPYC_AVX2, torch.bfloat16, False), (EPYC_AVX2, torch.float16, False),
    (AVX512_NO_BF16, torch.bfloat16, False), (GRAVITON3, torch.bfloat16, True),
    (dict(AMX_XEON, mkldnn=False), torch.bfloat16, False)])
def test_cpu_amp_speed_rule(features, dtype, fast):
    assert cpu_amp.cpu_amp_is_fast(dtype, features)[0] is fast


def test_this_cpu_is_probed():
    features = cpu_amp.cpu_features()
    assert set(features) == set(AMX_XEON)
    flags = open('/proc/cpuinfo').read() if osp.exists('/proc/cpuinfo') else ''
    if ' avx512_bf16' in flags or ' amx_bf16' in flags:
        assert cpu_amp.cpu_amp_is_fast(torch.bfloat16)[0]
    elif ' avx2' in flags and ' avx512' not in flags:
        assert not cpu_amp.cpu_amp_is_fast(torch.bfloat16)[0]


def test_slow_cpu_amp_warns_once(tiny_clip, monkeypatch):
    from mmseg.registry import MODELS

    import declip_mmseg  # noqa: F401
    arch, ckpt = tiny_clip
    monkeypatch.setattr(cpu_amp, 'cpu_features', lambda: dict(EPYC_AVX2))  # the hardware probe
    monkeypatch.setattr(cpu_amp, '_WARNED', set())
    messages = []
    monkeypatch.setattr(cpu_amp, 'print_log', lambda msg, *a, **k: messages.append(msg))
    model = MODELS.build(dict(
        type='ZeroShotSegmentor', cpu_amp_dtype='bfloat16', slide_crop=32, slide_stride=16,
        backbone=dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt),
        text_classifier=dict(type='ZeroShotTextClassifier', class_names=['a', 'b'],
                             templates='name', cache_dir=False))).eval()
    for _ in range(2):
        model._forward(torch.randn(1, 3, 40, 48))
    assert len(messages) == 1
    assert "model.cpu_amp_dtype='bfloat16' will likely be SLOWER than fp32" in messages[0]
    assert 'no AMX or AVX512-BF16' in messages[0]
    monkeypatch.setattr(cpu_amp, 'cpu_features', lambda: dict(AMX_XEON))
    monkeypatch.setattr(cpu_amp, 'measured_amp_speedup', lambda dtype: 3.6)  # the timing probe
    monkeypatch.setattr(cpu_amp, '_WARNED', set())
    model._forward(torch.randn(1, 3, 40, 48))
    assert len(messages) == 1  # fast hardware: no warning


def test_measured_speedup_is_timed_once():
    before = cpu_amp.measured_amp_speedup.cache_info()
    first = cpu_amp.measured_amp_speedup(torch.bfloat16)
    assert math.isfinite(first) and first > 0
    mid = cpu_amp.measured_amp_speedup.cache_info()
    assert cpu_amp.measured_amp_speedup(torch.bfloat16) == first
    after = cpu_amp.measured_amp_speedup.cache_info()
    assert after.misses == mid.misses <= before.misses + 1 and after.hits == mid.hits + 1
    assert cpu_amp.measured_amp_speedup(torch.float32) == 1.0


@pytest.fixture
def xeon_without_amx(monkeypatch):
    """AVX512-BF16 instructions, ``speedup`` as the measured bf16 / fp32 ratio; the log."""
    messages, calls = [], []
    monkeypatch.setattr(cpu_amp, 'cpu_features', lambda: dict(AMX_XEON, amx_bf16=False))
    monkeypatch.setattr(cpu_amp, '_WARNED', set())
    monkeypatch.setattr(cpu_amp, 'print_log', lambda msg, *a, **k: messages.append(msg))

    def set_speedup(speedup):
        monkeypatch.setattr(cpu_amp, 'measured_amp_speedup',
                            lambda dtype: calls.append(dtype) or speedup)
    return set_speedup, messages, calls


@pytest.mark.parametrize('speedup, dtype', [(0.56, None), (1.19, None), (1.2, torch.bfloat16),
                                            (2.0, torch.bfloat16)])
def test_auto_needs_instructions_and_measured_speed(xeon_without_amx, speedup, dtype):
    set_speedup, messages, calls = xeon_without_amx
    set_speedup(speedup)
    assert cpu_amp.auto_cpu_amp_dtype() is dtype
    assert cpu_amp.auto_cpu_amp_dtype() is dtype
    assert len(messages) == 1 and calls == [torch.bfloat16] * 2
    assert 'AVX512-BF16 instructions' in messages[0]
    assert f'bf16 products measured {speedup:.2f}x fp32' in messages[0]
    assert f"CPU inference in {'bf16' if dtype else 'fp32'}" in messages[0]


def test_auto_without_instructions_does_not_measure(monkeypatch):
    monkeypatch.setattr(cpu_amp, 'cpu_features', lambda: dict(EPYC_AVX2))
    monkeypatch.setattr(cpu_amp, '_WARNED', set())
    monkeypatch.setattr(cpu_amp, 'print_log', lambda *a, **k: None)
    monkeypatch.setattr(cpu_amp, 'measured_amp_speedup', lambda dtype: pytest.fail('timed'))
    assert cpu_amp.auto_cpu_amp_dtype() is None
    assert cpu_amp.warn_if_slow_cpu_amp(None) and cpu_amp.warn_if_slow_cpu_amp(torch.float32)


def test_measured_slow_bf16_warns_once(xeon_without_amx):
    set_speedup, messages, _ = xeon_without_amx
    set_speedup(0.56)
    assert not cpu_amp.warn_if_slow_cpu_amp(torch.bfloat16)
    assert not cpu_amp.warn_if_slow_cpu_amp(torch.bfloat16)
    assert len(messages) == 1
    assert "model.cpu_amp_dtype='bfloat16' will likely be SLOWER than fp32" in messages[0]
    assert 'AVX512-BF16 instructions, but bfloat16 products measured 0.56x fp32' in messages[0]
    set_speedup(1.1)  # slower than 'auto' asks for, but not slower than fp32: no warning
    cpu_amp._WARNED.clear()
    assert cpu_amp.warn_if_slow_cpu_amp(torch.bfloat16) and not cpu_amp._WARNED
