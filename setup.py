from setuptools import find_packages, setup


def version():
    scope = {}
    with open('declip_mmseg/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='declip-mmseg',
    version=version(),
    description='Open-vocabulary semantic segmentation with dense CLIP features '
                '(ClearCLIP, DeCLIP) for mmsegmentation',
    packages=find_packages(include=['declip_mmseg', 'declip_mmseg.*']),
    python_requires='>=3.10',
    # Pinned, tested versions are in requirements.txt; torch / mmcv need the
    # special install steps in tools/setup_env.sh.
    install_requires=['open_clip_torch', 'mmsegmentation', 'mmengine', 'openpyxl', 'ftfy', 'regex'],
)
