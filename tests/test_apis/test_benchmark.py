"""apis/benchmark.py through tools/benchmark.py: inference methods and DenseVLM training."""

import pytest
import torch

from declip_mmseg.testing import TINY_EVA_TEACHER_ARCH as TEACHER_ARCH
from declip_mmseg.testing import write_tiny_clip


@pytest.mark.slow
def test_benchmark_methods_next_to_clearclip(tiny_clip, run_tool):
    """Smoke run of tools/benchmark.py --method on the tiny CLIP (figures are not asserted);
    ProxyCLIP's DINO-B/8 gets random weights at its real size."""
    arch, _ = tiny_clip
    proc = run_tool('benchmark', ['--model', arch, '--height', '40', '--width', '56', '--repeats',
                                  '1', '--method', 'naclip', 'proxyclip'])
    assert proc.returncode == 0, proc.stderr[-5000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith('| ')]
    header = [c.strip() for c in lines[0].split('|')[1:-1]]
    rows = [dict(zip(header, (c.strip() for c in line.split('|')[1:-1]))) for line in lines[1:]]
    assert [r['method'] for r in rows] == ['clearclip', 'naclip', 'proxyclip']
    assert rows[1]['postprocess'] == 'PAMR' and rows[0]['vs_clearclip'] == '1.0'
    assert all(float(r['ms_per_image']) > 0 for r in rows)




@pytest.fixture(scope='module')
def tiny_teacher(tmp_path_factory):
    return write_tiny_clip(str(tmp_path_factory.mktemp('tiny_teacher')), name='TinyEVATeacher',
                           seed=1, arch=TEACHER_ARCH)




def test_benchmark_densevlm_train_runs(tiny_eva, tiny_teacher, run_tool):
    """Smoke run of tools/benchmark.py --train --method densevlm on the tiny models."""
    proc = run_tool('benchmark', ['--train', '--method', 'densevlm',
               '--model', tiny_eva[0], '--teacher', tiny_teacher[0], '--image-size', '64',
               '--batch', '2', '--repeats', '1'])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    out = proc.output
    lines = [line for line in out.splitlines() if line.startswith('| ')]
    header = [c.strip() for c in lines[0].split('|')[1:-1]]
    row = dict(zip(header, (c.strip() for c in lines[1].split('|')[1:-1])))
    assert row['mode'] == 'train-densevlm' and row['image_size'] == '64'
    assert float(row['s_per_step']) > 0 and float(row['peak_mem_mib']) > 0




@pytest.mark.slow
def test_benchmark_script_runs(tiny_clip, run_tool):
    """Smoke run of tools/benchmark.py on the tiny CLIP (figures are not asserted)."""
    arch, _ = tiny_clip
    proc = run_tool('benchmark', ['--model', arch, '--height', '40',
                '--width', '56', '--crop', '32', '--stride', '16', '--repeats', '1'])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith('| ')]
    header = [c.strip() for c in lines[0].split('|')[1:-1]]
    rows = [dict(zip(header, (c.strip() for c in line.split('|')[1:-1]))) for line in lines[1:]]
    assert [r['mode'] for r in rows] == ['reference', 'one-window', 'batched', 'batched-bf16']
    assert all(r['device'] == 'cpu' and float(r['ms_per_image']) > 0 for r in rows)
    assert max(float(r['max_abs_diff_vs_reference']) for r in rows[:3]) < 1e-5  # fp32 paths agree


def test_cpu_benchmark_table(tiny_clip, run_tool):
    """tools/benchmark.py --cpu on the tiny CLIP: ClearCLIP's loop, project fp32 and the fast path
    per protocol and class count, parity columns filled (figures are not asserted)."""
    arch, _ = tiny_clip
    proc = run_tool('benchmark', ['--cpu', '--model', arch, '--height', '40', '--width', '56',
                                  '--protocols', '32/16', '--class-counts', '3', '30',
                                  '--repeats', '1'])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert 'GEMM peak: fp32' in proc.stdout and 'load average' in proc.stdout
    lines = [line for line in proc.stdout.splitlines() if line.startswith('| ')]
    header = [c.strip() for c in lines[0].split('|')[1:-1]]
    rows = [dict(zip(header, (c.strip() for c in line.split('|')[1:-1]))) for line in lines[1:]]
    assert [(r['classes'], r['variant']) for r in rows][:3] == [
        ('3', 'clearclip-loop'), ('3', 'project-fp32'), ('3', 'project-fast')]
    assert all(float(r['vs_loop']) > 0 for r in rows)
    assert {r['classes'] for r in rows} == {'3', '30'}
    assert all(float(r['max_prob_diff']) <= 1e-5 for r in rows if 'bf16' not in r['variant'])
    assert all(int(r['page_faults']) >= 0 and float(r['gflop']) > 0 for r in rows)


def test_own_loop_runs_the_vfm_attention_materialised():
    """--cpu --method proxyclip: the own loop computes timm's attention as DINO's code does
    (weights in memory), the same values as the fused kernel, and restores the blocks."""
    import timm

    from declip_mmseg.apis.benchmark import cpu_variants, materialised_attention
    vit = timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=32, depth=2).eval()
    blocks = [m for m in vit.modules() if hasattr(m, 'fused_attn')]
    assert blocks and all(m.fused_attn for m in blocks)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        fused = vit(x)
        with materialised_attention(vit):
            assert not any(m.fused_attn for m in blocks)
            plain = vit(x)
    assert all(m.fused_attn for m in blocks)
    torch.testing.assert_close(plain, fused, atol=1e-5, rtol=1e-5)
    variants = cpu_variants('proxyclip', loop_bf16=True)
    assert variants['proxyclip-loop'] == (False, None, True)
    assert variants['project-fast'] == (True, None, False)
