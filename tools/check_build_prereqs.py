"""Check, right before mmcv's source build, what that build needs (run by setup_env.sh).

mmcv 2.1.0's setup.py imports ``pkg_resources`` (setuptools < 81 only) and builds its C++
ops with torch's extension builder, ninja and a C++ compiler. Exit status 1 lists what is
missing and how to get it.
"""
import importlib.metadata as md
import importlib.util
import shutil
import sys
import warnings


def problems():
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


if __name__ == '__main__':
    for line in problems():
        print(f'      build prerequisite missing: {line}', file=sys.stderr)
    sys.exit(1 if problems() else 0)
