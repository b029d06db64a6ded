"""The command lines start as programs: one run per tool in a fresh interpreter. The offline
errors need one anyway: huggingface_hub reads HF_ENDPOINT / HF_HUB_OFFLINE when it is imported."""

import numpy as np
import pytest
from PIL import Image

from declip_mmseg.testing.tools import run_process


def test_demo_offline_says_so_in_one_line(tmp_path):
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / 'photo.jpg')
    proc = run_process(['python', 'tools/demo.py', str(tmp_path / 'photo.jpg'), '--classes',
                'cat; dog', '--out', str(tmp_path / 'o.png')], timeout=120,
               env={'HF_ENDPOINT': 'http://127.0.0.1:9', 'HF_HOME': str(tmp_path / 'hf'),
                    'HOME': str(tmp_path), 'HF_HUB_OFFLINE': '0'})
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2, proc.stderr[-3000:]
    assert 'not in the local cache' in lines[-1] and '--checkpoint PATH' in lines[-1]


def test_evaluation_offline_says_so_in_one_line(tmp_path):
    proc = run_process(['python', 'tools/test.py', 'configs/cfg_voc21.py', '--work-dir',
                str(tmp_path / 'w')], timeout=120,
               env={'HF_ENDPOINT': 'http://127.0.0.1:9', 'HF_HOME': str(tmp_path / 'hf'),
                    'HOME': str(tmp_path), 'HF_HUB_OFFLINE': '0'})
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert proc.returncode != 0 and len(lines) <= 2, lines
    assert "'openai' weights of 'ViT-B-16' are not in the local cache" in lines[-1]
    assert '--checkpoint PATH' in lines[-1]


@pytest.mark.slow
@pytest.mark.parametrize('script', ['tools/train.py', 'tools/eval_all.py', 'tools/benchmark.py',
                                    'tools/convert_checkpoint.py', 'datasets/cvt_coco_object.py',
                                    'datasets/prepare_ade20k_panoptic.py'])
def test_script_starts_as_a_program(script):
    """The scripts whose other tests run in-process start as programs and print their usage
    (tools/test.py, tools/demo.py: the offline runs above; tools/selfcheck.py: test_selfcheck)."""
    proc = run_process(['python', script, '--help'], timeout=300)
    assert proc.returncode == 0, proc.output[-3000:]
    assert 'usage:' in proc.stdout
