"""Shared fixtures: a tiny random CLIP saved in open_clip's checkpoint format.

The architecture is a real open_clip ViT (conv patch embedding, class token,
learned positions, nn.MultiheadAttention blocks, text transformer), only
narrow and shallow, so every test exercises the real loading and forward code.
"""
import json
import os
import sys

import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tests'))

TINY_ARCH = {
    'embed_dim': 32,
    'vision_cfg': {'image_size': 32, 'layers': 3, 'width': 64, 'head_width': 16,
                   'patch_size': 8},
    'text_cfg': {'context_length': 77, 'vocab_size': 49408, 'width': 32, 'heads': 2,
                 'layers': 2},
}


@pytest.fixture(scope='session', autouse=True)
def _isolated_cache(tmp_path_factory):
    """Text-embedding cache of this test session only."""
    os.environ['DECLIP_CACHE_DIR'] = str(tmp_path_factory.mktemp('text_cache'))
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def write_tiny_clip(folder, name='TinyCLIP-Test', seed=0, arch=TINY_ARCH):
    """Write ``<name>.json`` (architecture) and ``<name>.pt`` (random weights)."""
    import open_clip
    os.makedirs(folder, exist_ok=True)
    arch_path = os.path.join(folder, f'{name}.json')
    with open(arch_path, 'w') as f:
        json.dump(arch, f)
    open_clip.add_model_config(arch_path)
    torch.manual_seed(seed)
    model = open_clip.create_model(name)
    # open_clip initialises positions and projections tiny; spread them so
    # that windows and positions matter in the tests.
    with torch.no_grad():
        model.visual.positional_embedding.normal_(0, 0.5)
        model.visual.proj.normal_(0, 0.2)
    ckpt_path = os.path.join(folder, f'{name}.pt')
    torch.save(model.state_dict(), ckpt_path)
    return arch_path, ckpt_path


@pytest.fixture(scope='session')
def tiny_clip(tmp_path_factory):
    """(architecture json path, checkpoint path) of the tiny CLIP."""
    return write_tiny_clip(str(tmp_path_factory.mktemp('tiny_clip')))
