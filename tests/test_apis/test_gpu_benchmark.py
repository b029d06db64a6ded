"""The GPU benchmark's code on the CPU (tools/gpu_check.sh --device cpu runs all of it)."""
import pytest
import torch

from declip_mmseg.apis.gpu_benchmark import QUICK, Sizes, gpu_benchmark, inference_rows


@pytest.mark.slow
def test_inference_rows_batched_equals_the_loop_in_fp32():
    sizes = Sizes(height=64, width=112, windows=((64, 32),), repeats=1)
    rows = inference_rows('cpu', sizes)
    assert [r['precision'] for r in rows] == ['fp32', 'fp16', 'bf16']
    assert rows[0]['windows'] == 3
    assert float(rows[0]['max abs diff vs fp32 loop']) <= 1e-4
    assert float(rows[0]['labels changed %']) == 0.0
    assert all(float(r['batched img/s']) > 0 for r in rows)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message without a GPU')
def test_cuda_without_a_gpu_says_so():
    with pytest.raises(RuntimeError, match='torch sees no GPU.*--device cpu'):
        gpu_benchmark('cuda', QUICK)
