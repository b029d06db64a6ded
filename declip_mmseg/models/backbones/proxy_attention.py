"""ProxyCLIP's proxy attention (ECCV'24, ``open_clip/transformer.py`` ``custom_attn``).

The last CLIP block keeps only its values; the attention weights come from a
frozen vision foundation model (VFM) run on the same window:

1. ``F``: VFM patch features (B, C, I, J), L2-normalised over C per token;
2. ``S = F^T F`` (B, M, M), M = I * J, cosine similarities;
3. ``S' = gamma * (S - beta * mean(S))`` with one mean per window (ProxyCLIP
   runs one window at a time, so its mean over the whole tensor is per window);
4. entries of ``S'`` below 0 become -inf, ``A = softmax(S')`` over each row,
   the same ``A`` for every head;
5. the values of the patch tokens (class token dropped), per head, are
   upsampled bilinearly (``align_corners=False``) from the CLIP grid to the
   VFM grid and mixed by ``A``: the block's output has M tokens on the VFM grid.

The VFM sees the window as ProxyCLIP feeds it: CLIP's normalisation undone with
CLIP's exact statistics, ImageNet's applied (SAM: also resized to 1024 x 1024).
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ...clip.constants import CLIP_MEAN_01, CLIP_STD_01
from .vfm import VisionFoundationModel, build_vfm

# ProxyCLIP resizes SAM's input to this square size.
FIXED_INPUT_SIZE = {'sam-B': 1024, 'sam-L': 1024}
PROXY_KEYS = ('vfm', 'weights', 'beta', 'gamma', 'input_size', 'arch')


def proxy_weights(feats: torch.Tensor, beta: float, gamma: float) -> torch.Tensor:
    """Attention weights (B, M, M) from VFM features (B, C, I, J), ProxyCLIP's formula."""
    f = F.normalize(feats.flatten(2), dim=1)
    sim = torch.einsum('bcm,bcn->bmn', f, f)
    sim = (sim - sim.mean(dim=(1, 2), keepdim=True) * beta) * gamma
    sim = sim.masked_fill(sim < 0, float('-inf'))
    return sim.softmax(dim=-1)


def proxy_mix(v: torch.Tensor, weights: torch.Tensor, clip_grid: Tuple[int, int],
              vfm_grid: Tuple[int, int]) -> torch.Tensor:
    """Per-head output on the VFM grid.

    Args:
        v: values (B*heads, 1 + N, d) of the last block, class token first.
        weights: (B, M, M) from :func:`proxy_weights`, shared by the heads.
    Returns:
        (B*heads, M, d).
    """
    bh, _, d = v.shape
    b = weights.shape[0]
    heads = bh // b
    gh, gw = clip_grid
    patches = v[:, 1:].reshape(bh, gh, gw, d).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, size=vfm_grid, mode='bilinear', align_corners=False)
    patches = patches.flatten(2).transpose(1, 2).reshape(b, heads, -1, d)
    out = torch.einsum('bmn,bhnd->bhmd', weights.to(patches.dtype), patches)
    return out.reshape(bh, -1, d)


class ProxyGuide(nn.Module):
    """A frozen VFM and ProxyCLIP's (beta, gamma); computes the proxy attention weights.

    Args:
        vfm: name in :data:`declip_mmseg.registry.VFMS` ('dino-B-8',
            'dino-B-16', 'dinov2-B', 'sam-B', ...).
        weights: local weight file in the VFM's release format.
        beta, gamma: ProxyCLIP's offset and temperature (1.2, 3.0).
        input_size: square size the window is resized to for the VFM (None:
            the window's own size; SAM defaults to 1024 as in ProxyCLIP).
        arch: architecture overrides for the VFM builder (tests build tiny VFMs).
    """

    def __init__(self, vfm: str, weights: str, beta: float = 1.2, gamma: float = 3.0,
                 input_size: Optional[int] = None, arch: Optional[dict] = None):
        super().__init__()
        self.vfm: VisionFoundationModel = build_vfm(vfm, weights, **(arch or {}))
        self.vfm_name = vfm
        self.beta = float(beta)
        self.gamma = float(gamma)
        self.input_size = input_size if input_size is not None else FIXED_INPUT_SIZE.get(vfm)
        self.register_buffer('clip_mean', torch.tensor(CLIP_MEAN_01).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('clip_std', torch.tensor(CLIP_STD_01).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('vfm_mean', torch.tensor(self.vfm.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('vfm_std', torch.tensor(self.vfm.std).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def from_config(cls, cfg: dict) -> 'ProxyGuide':
        cfg = dict(cfg)
        unknown = sorted(set(cfg) - set(PROXY_KEYS))
        missing = [k for k in ('vfm', 'weights') if k not in cfg]
        if unknown or missing:
            raise ValueError(f'backbone.proxy: unknown keys {unknown}, missing keys {missing}; '
                             f'allowed keys are {list(PROXY_KEYS)}')
        return cls(**cfg)

    @property
    def patch_size(self) -> int:
        return self.vfm.patch_size

    def train(self, mode: bool = True) -> 'ProxyGuide':
        return super().train(False)

    def vfm_input(self, img: torch.Tensor) -> torch.Tensor:
        """CLIP-normalised windows (B, 3, H, W) -> the VFM's input."""
        x = (img * self.clip_std + self.clip_mean - self.vfm_mean) / self.vfm_std
        if self.input_size is not None:
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode='bilinear',
                              align_corners=False)
        return x

    def forward(self, img: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Windows (B, 3, H, W) -> attention weights (B, M, M) and the VFM grid (I, J)."""
        feats = self.vfm(self.vfm_input(img))
        return proxy_weights(feats, self.beta, self.gamma), tuple(feats.shape[-2:])


def lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)
