"""Shared fixtures: a tiny random CLIP saved in open_clip's checkpoint format.

The architecture is a real open_clip ViT (conv patch embedding, class token,
learned positions, nn.MultiheadAttention blocks, text transformer), only
narrow and shallow, so every test exercises the real loading and forward code.
"""
import os

import pytest
import torch

from declip_mmseg.datasets.converters import convert_ade20k_panoptic
from declip_mmseg.testing import TINY_EVA_ARCH, write_tiny_clip
from declip_mmseg.testing import tools as _tools
from declip_mmseg.testing.synthetic_data import make_raw_ade


@pytest.fixture(scope='session', autouse=True)
def _isolated_cache(tmp_path_factory):
    """Text-embedding cache of this test session only."""
    os.environ['DECLIP_CACHE_DIR'] = str(tmp_path_factory.mktemp('text_cache'))
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope='session')
def tiny_clip(tmp_path_factory):
    """(architecture json path, checkpoint path) of the tiny CLIP."""
    return write_tiny_clip(str(tmp_path_factory.mktemp('tiny_clip')))


@pytest.fixture(scope='session')
def tiny_eva(tmp_path_factory):
    """(architecture json path, open_clip-format checkpoint path) of a tiny EVA02 CLIP."""
    return write_tiny_clip(str(tmp_path_factory.mktemp('tiny_eva')), name='TinyEVA-Test',
                           arch=TINY_EVA_ARCH)


@pytest.fixture
def run_tool(monkeypatch):
    """``run_tool(name, argv, cwd=REPO, env=None)``: ``tools/<name>.py``'s ``main(argv)`` in this
    process, in ``cwd`` with ``env`` set; returns returncode / stdout / stderr / output like the
    ``subprocess.run`` result a command line would give."""
    def run(name, argv=(), cwd=_tools.REPO, env=None):
        monkeypatch.chdir(cwd)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        return _tools.run_tool(name, argv, cwd=cwd)
    return run


@pytest.fixture(scope='session')
def ade_root(tmp_path_factory):
    """A raw synthetic ADEChallengeData2016, converted to ADE20K panoptic."""
    root = make_raw_ade(str(tmp_path_factory.mktemp('ade') / 'ADEChallengeData2016'))
    convert_ade20k_panoptic(root, log=None)
    return root
