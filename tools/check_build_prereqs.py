"""Check, right before mmcv's source build, what that build needs, and decide how it is built
(run by setup_env.sh with the virtual environment's Python).

    python tools/check_build_prereqs.py            # exit status 1 lists what is missing
    python tools/check_build_prereqs.py --mmcv-env # also print the build's environment (KEY=VALUE)

mmcv 2.1.0's setup.py imports ``pkg_resources`` (setuptools < 81 only) and builds its C++
ops with torch's extension builder, ninja and a C++ compiler. Its ``get_extensions()``
compiles the CUDA ops (``CUDAExtension``, needs nvcc) when ``torch.cuda.is_available()``
or ``FORCE_CUDA=1`` (or a ROCm torch); ``FORCE_MLU`` / ``FORCE_MPS`` / ``FORCE_NPU`` /
``MMCV_WITH_DIOPI`` pick other back-ends; otherwise it builds the CPU ops only
(``CppExtension``). Neither this package nor the mmsegmentation code it uses calls an mmcv
CUDA op (mmseg only imports ``mmcv.ops``; region pooling uses torchvision), so the CPU ops
are the default everywhere: ``MMCV_CUDA_OPS=1`` asks for the CUDA ops.

This file must not import declip_mmseg: it runs before mmcv (which the package needs) exists.
"""
import importlib.metadata as md
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import warnings

# Variables of mmcv 2.1.0's setup.py that would select another back-end than the CPU.
OTHER_BACKENDS = ('FORCE_MLU', 'FORCE_MPS', 'FORCE_NPU', 'MMCV_WITH_DIOPI')


def problems():
    """What mmcv's source build lacks, one line each with the fix (empty: nothing)."""
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        if importlib.util.find_spec('pkg_resources') is None:
            found.append(f"setuptools {md.version('setuptools')} has no pkg_resources, which mmcv's "
                         "setup.py imports: pip install -c constraints.txt setuptools (pins < 81)")
    for name in ('wheel', 'ninja', 'torch'):
        try:
            md.version(name)
        except md.PackageNotFoundError:
            found.append(f'{name} is not installed: pip install -c constraints.txt {name}')
    if importlib.util.find_spec('torch') is not None and \
            importlib.util.find_spec('torch.utils.cpp_extension') is None:
        found.append("torch has no torch.utils.cpp_extension (a broken torch install): re-run setup_env.sh")
    if not any(shutil.which(cc) for cc in ('g++', 'c++', 'clang++')):
        found.append('no C++ compiler on PATH: apt-get install g++ (Debian/Ubuntu)')
    return found


def wants_cuda_ops(environ) -> bool:
    """``MMCV_CUDA_OPS`` set to 1 / true / yes / on."""
    return environ.get('MMCV_CUDA_OPS', '').strip().lower() in ('1', 'true', 'yes', 'on')


def mmcv_build_env(environ, gpu_visible: bool, torch_cuda, nvcc_cuda):
    """How to build mmcv 2.1.0: ``(case, env, errors)``.

    ``environ``: the user's environment (``MMCV_CUDA_OPS``); ``gpu_visible``: whether
    ``torch.cuda.is_available()``; ``torch_cuda``: ``torch.version.cuda`` (None for a CPU
    torch); ``nvcc_cuda``: the version ``nvcc --version`` reports (None: no nvcc / CUDA_HOME).
    ``env`` holds the variables to set for the build (an empty string means: set, empty);
    ``errors`` why the asked-for build cannot work (then nothing should be built).
    """
    env = {'MMCV_WITH_OPS': '1', **{k: '0' for k in OTHER_BACKENDS}}
    if not wants_cuda_ops(environ):
        # FORCE_CUDA=0 and no visible GPU: get_extensions() takes its CPU-only branch.
        env.update(FORCE_CUDA='0', CUDA_VISIBLE_DEVICES='')
        why = ('a GPU is visible but is hidden from the build (CUDA_VISIBLE_DEVICES=)' if gpu_visible
               else 'no GPU visible')
        return f'CPU ops ({why}; MMCV_CUDA_OPS=1 builds the CUDA ops)', env, []
    errors = []
    if torch_cuda is None:
        errors.append('MMCV_CUDA_OPS=1 but this torch is a CPU build (torch.version.cuda is None): '
                      'install a CUDA build of torch, or unset MMCV_CUDA_OPS')
    if nvcc_cuda is None:
        errors.append('MMCV_CUDA_OPS=1 but no CUDA toolkit was found (nvcc on PATH or '
                      '$CUDA_HOME/bin/nvcc): install the toolkit matching torch '
                      f'(CUDA {torch_cuda}) and set CUDA_HOME, or unset MMCV_CUDA_OPS')
    elif torch_cuda is not None and nvcc_cuda.split('.')[0] != torch_cuda.split('.')[0]:
        errors.append(f'MMCV_CUDA_OPS=1 but nvcc is CUDA {nvcc_cuda} and torch was built with CUDA '
                      f'{torch_cuda}: torch refuses to build extensions across CUDA major versions; '
                      f'point CUDA_HOME at a CUDA {torch_cuda.split(".")[0]}.x toolkit')
    env.update(FORCE_CUDA='1')
    return f'CUDA ops (MMCV_CUDA_OPS=1; nvcc {nvcc_cuda}, torch CUDA {torch_cuda})', env, errors


def nvcc_version(environ):
    """CUDA version of the toolkit torch's extension builder would use, or None."""
    home = environ.get('CUDA_HOME') or environ.get('CUDA_PATH')
    nvcc = os.path.join(home, 'bin', 'nvcc') if home else shutil.which('nvcc')
    if not nvcc or not os.path.exists(nvcc):
        return None
    out = subprocess.run([nvcc, '--version'], capture_output=True, text=True).stdout
    match = re.search(r'release (\d+\.\d+)', out)
    return match.group(1) if match else None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    found = problems()
    for line in found:
        print(f'      build prerequisite missing: {line}', file=sys.stderr)
    if '--mmcv-env' in argv:
        import torch
        wanted = wants_cuda_ops(os.environ)
        case, env, errors = mmcv_build_env(os.environ, torch.cuda.is_available(), torch.version.cuda,
                                           nvcc_version(os.environ) if wanted else None)
        for line in errors:
            print(f'      cannot build: {line}', file=sys.stderr)
        found += errors
        print(f'CASE={case}')
        for key, value in env.items():
            print(f'{key}={value}')
    sys.exit(1 if found else 0)


if __name__ == '__main__':
    main()
