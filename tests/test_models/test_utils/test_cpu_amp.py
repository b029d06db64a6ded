"""models/utils/cpu_amp.py: when CPU autocast is used, and its one-time warning."""
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
    monkeypatch.setattr(cpu_amp, '_WARNED', set())
    model._forward(torch.randn(1, 3, 40, 48))
    assert len(messages) == 1  # fast hardware: no warning
