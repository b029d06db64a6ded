"""Shared fixtures: a tiny random CLIP saved in open_clip's checkpoint format.

The architecture is a real open_clip ViT (conv patch embedding, class token,
learned positions, nn.MultiheadAttention blocks, text transformer), only
narrow and shallow, so every test exercises the real loading and forward code.
"""
import os
import sys

import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tests'))

from declip_mmseg.testing import TINY_ARCH, TINY_EVA_ARCH, write_tiny_clip  # noqa: E402,F401


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
