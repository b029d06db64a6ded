"""NACLIP's attention rule (models/backbones/decoupled_attention.py) against NACLIP's construction."""
import math

import pytest
import torch
import torch.nn.functional as F

from declip_mmseg.models.backbones.decoupled_attention import ATTN_MODES, gaussian_bias
from declip_mmseg.testing.reference import naclip_bias, softmax

# ------------------------------------------------------------------ NACLIP

def naclip_conv_bias(gh, gw, sigma):
    """NACLIP's own construction: one-hot maps convolved ('same') with a (2h-1)x(2w-1) window."""
    c = 1 / (sigma * math.sqrt(2))
    ks = [torch.linspace(-(n - 1) * c, (n - 1) * c, 2 * n - 1) for n in (gh, gw)]
    window = torch.exp(-(torch.stack(torch.meshgrid(*ks, indexing='ij')) ** 2).sum(0))
    eye = torch.einsum('ij,kl->ijkl', torch.eye(gh), torch.eye(gw)).permute(0, 3, 1, 2)
    out = F.conv2d(eye.reshape(-1, gh, gw)[:, None], window[None, None], padding='same')
    out = out.reshape(gh * gw, gh * gw)
    full = torch.zeros(1 + gh * gw, 1 + gh * gw)
    full[1:, 1:] = out
    return full


@pytest.mark.parametrize('grid', [(3, 5), (4, 4), (21, 31)])
def test_naclip_bias_matches_naclip_construction(grid):
    torch.testing.assert_close(gaussian_bias(grid), naclip_conv_bias(*grid, 5.0), atol=1e-5, rtol=0)
    if grid == (3, 5):
        torch.testing.assert_close(gaussian_bias(grid), naclip_bias(*grid), atol=1e-6, rtol=0)


def test_naclip_rule_head_by_head_on_a_non_square_grid():
    torch.manual_seed(0)
    grid, heads, d = (3, 5), 3, 8
    q, k, v = (torch.randn(heads, 16, d) for _ in range(3))
    weights = ATTN_MODES['naclip'](q, k, v, 0.35, grid)
    for h in range(heads):
        expected = softmax(k[h] @ k[h].T * 0.35 + naclip_bias(*grid))  # bias not scaled, q unused
        torch.testing.assert_close(weights[h], expected, atol=1e-6, rtol=1e-5)
