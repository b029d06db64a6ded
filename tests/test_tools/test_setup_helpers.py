"""The decisions of tools/setup_env.sh's helpers: how mmcv's ops are built
(tools/check_build_prereqs.py) and which packages a wheelhouse holds (tools/wheelhouse_list.py).
The 8-minute build itself runs in CI (.ci/run)."""
import pytest

from declip_mmseg.testing.tools import load_tool

prereqs = load_tool('check_build_prereqs')
wheelhouse = load_tool('wheelhouse_list')


@pytest.mark.parametrize('gpu', [True, False])
@pytest.mark.parametrize('user_env', [{}, {'FORCE_CUDA': '1'}, {'MMCV_CUDA_OPS': '0'}])
def test_cpu_ops_by_default_even_with_a_gpu_and_force_cuda(gpu, user_env):
    # mmcv 2.1.0 builds CUDA ops when torch.cuda.is_available() or FORCE_CUDA == '1'
    case, env, errors = prereqs.mmcv_build_env(user_env, gpu, '13.0', None)
    assert errors == []
    assert env['FORCE_CUDA'] == '0' and env['CUDA_VISIBLE_DEVICES'] == '' and env['MMCV_WITH_OPS'] == '1'
    assert all(env[k] == '0' for k in ('FORCE_MLU', 'FORCE_MPS', 'FORCE_NPU', 'MMCV_WITH_DIOPI'))
    assert case.startswith('CPU ops') and ('hidden from the build' in case) == gpu


def test_cuda_ops_on_request_with_a_matching_toolkit():
    case, env, errors = prereqs.mmcv_build_env({'MMCV_CUDA_OPS': '1'}, True, '13.0', '13.0')
    assert errors == [] and case.startswith('CUDA ops')
    assert env['FORCE_CUDA'] == '1' and 'CUDA_VISIBLE_DEVICES' not in env


@pytest.mark.parametrize('torch_cuda, nvcc, says', [
    ('13.0', None, 'no CUDA toolkit was found'),
    ('13.0', '12.4', 'nvcc is CUDA 12.4 and torch was built with CUDA 13.0'),
    (None, '13.0', 'this torch is a CPU build'),
])
def test_cuda_ops_refused_without_what_they_need(torch_cuda, nvcc, says):
    _, _, errors = prereqs.mmcv_build_env({'MMCV_CUDA_OPS': 'yes'}, True, torch_cuda, nvcc)
    assert len(errors) == 1 and says in errors[0] and errors[0].startswith('MMCV_CUDA_OPS=1 but')


def test_cli_prints_the_build_environment(run_tool):
    res = run_tool('check_build_prereqs', ['--mmcv-env'], env={'MMCV_CUDA_OPS': ''})
    assert res.returncode == 0, res.output
    lines = dict(line.split('=', 1) for line in res.stdout.splitlines())
    assert lines['CASE'].startswith('CPU ops') and lines['FORCE_CUDA'] == '0'
    assert lines['CUDA_VISIBLE_DEVICES'] == ''


def _item(name, requires=(), requested=False):
    return {'metadata': {'name': name, 'version': '1.0', 'requires_dist': list(requires)},
            'requested': requested}


REPORT = {'install': [
    _item('Open_Clip.torch', ['torch>=2', 'ftfy', 'old-py; python_version < "3.12"',
                              'dev-tool; extra == "dev"'], requested=True),
    _item('torch', ['cuda-toolkit[cudart]==13.0.3', 'ftfy'], requested=True),
    _item('cuda-toolkit', ['nvidia-cuda-runtime==13.0.96; extra == "cudart"',
                           'nvidia-cufft; extra == "cufft"']),
    _item('nvidia-cuda-runtime'), _item('nvidia-cufft'), _item('ftfy'), _item('old-py'),
    _item('dev-tool'),
]}


def test_wheelhouse_keeps_everything_by_default():
    names = [n for n, _ in wheelhouse.keep(REPORT, python_version='3.11')]
    # torch's cuda-toolkit[cudart] brings nvidia-cuda-runtime, not the extra nobody asked for
    assert names == ['Open_Clip.torch', 'torch', 'cuda-toolkit', 'nvidia-cuda-runtime', 'ftfy', 'old-py']


def test_wheelhouse_skips_what_the_target_has_and_what_only_it_needs():
    names = [n for n, _ in wheelhouse.keep(REPORT, skip=['Torch'], python_version='3.12')]
    # ftfy stays (open_clip needs it too); torch's CUDA library goes; markers for 3.12
    assert names == ['Open_Clip.torch', 'ftfy']
