"""tools/selfcheck.py on the CPU (the same checks a GPU machine runs with --device cuda); its
dist_test row is the suite's check that 2 processes (gloo) give the 1-process metrics."""
import importlib.util
import os

import pytest
import torch

from declip_mmseg.apis import selfcheck as sc
from declip_mmseg.testing.tools import REPO, run_process

CHECKS = ['inference float16', 'inference bfloat16', 'text encoding', 'distill step bfloat16',
          'dist_test 2 processes', 'benchmark inference ViT-B/16', 'benchmark train EVA02-B/16']


def table_rows(out):
    rows = [[c.strip() for c in line.split('|')[1:-1]] for line in out.splitlines()
            if line.startswith('| ')]
    assert rows and rows[0] == ['check', 'result', 'figures'], out[-3000:]
    return {name: (status, figures) for name, status, figures in rows[1:]}


@pytest.mark.slow
def test_cpu_selfcheck_passes(tmp_path):
    # the CLI smoke test of tools/selfcheck.py: started as a program (its dist_test row starts
    # 2 more processes itself)
    proc = run_process(['python', 'tools/selfcheck.py', '--device', 'cpu', '--skip-real-size',
                        '--work-dir', str(tmp_path)])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-8000:]
    rows = table_rows(proc.stdout)
    assert list(rows) == CHECKS
    for name in CHECKS[1:5]:
        assert rows[name][0] == 'pass', (name, rows[name])
    # CPU fp16 autocast exists in recent torch; older ones report why it is skipped
    assert rows['inference float16'][0] == 'pass' or (
        rows['inference float16'][0] == 'skip' and 'not supported' in rows['inference float16'][1])
    assert 'labels agree' in rows['inference bfloat16'][1]
    assert 'gloo: 2 processes' in rows['dist_test 2 processes'][1]
    assert 'CPU autocast' in rows['distill step bfloat16'][1]
    for name in CHECKS[5:]:
        assert rows[name] == ('skip', '--skip-real-size')
    assert 'self-check on CPU' in proc.stdout and 'all checks passed' in proc.stdout


def test_a_failing_check_fails_the_run(tmp_path, monkeypatch, capsys):
    """A broken autocast path (here: switched off) fails its check and the command."""
    import contextlib

    from declip_mmseg.models.segmentors import ZeroShotSegmentor
    check = sc.SelfCheck('cpu', str(tmp_path), log=lambda line: None)
    monkeypatch.setattr(ZeroShotSegmentor, '_autocast',
                        lambda self, device: contextlib.nullcontext())
    result = check.run('inference bfloat16', lambda: check.check_inference('bfloat16'))
    assert result.status == 'fail' and 'max abs logit diff 0.00e+00' in result.figures
    boom = check.run('raises', lambda: 1 / 0)
    assert boom.status == 'fail' and 'ZeroDivisionError' in boom.figures
    skipped = check.run('skipped', lambda: (_ for _ in ()).throw(sc.Skip('no GPU here')))
    assert skipped.status == 'skip' and skipped.figures == 'no GPU here'
    table = sc.format_results(check.results)
    assert '| inference bfloat16 | fail' in table

    spec = importlib.util.spec_from_file_location('selfcheck_tool',
                                                  os.path.join(REPO, 'tools', 'selfcheck.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(tool, 'selfcheck',
                        lambda *a, **k: (check.results, sc.format_results(check.results)))
    with pytest.raises(SystemExit) as exit_info:
        tool.main(['--device', 'cpu'])
    assert exit_info.value.code == 1
    assert 'FAILED: inference bfloat16, raises' in capsys.readouterr().err


def test_cuda_request_without_gpu_is_a_clear_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip('this machine has a GPU')
    with pytest.raises(RuntimeError, match='sees no CUDA GPU.*--device cpu'):
        sc.SelfCheck('cuda', str(tmp_path))
