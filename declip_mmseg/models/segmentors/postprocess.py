"""Post-processing steps of :class:`ZeroShotSegmentor`, registered in mmseg's ``MODELS``.

A step is an ``nn.Module`` (so it follows the model to its device) with a
``stage``:

``'logits'``
    ``step(logits, image)``: raw cosine logits of every query at the original
    image size (1, Q, H, W), before ``logit_scale`` and the softmax, and the
    network's input image (1, 3, h, w) (CLIP-normalised); returns new logits.
``'probs'``
    ``step(probs)``: class probabilities (C, H, W) after the softmax and the
    synonym max, before the argmax and ``prob_thd``; returns new probabilities.
    Such a step also has ``dropped_classes(argmax_labels, C) -> (C,) bool`` (the
    classes it zeroes), which the bounded-memory labelling uses instead.

Configs list steps in order: ``postprocess=[dict(type='PAMR', num_iter=10,
dilations=(8, 16))]``.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import nn

STAGES = ('logits', 'probs')


def postprocess_steps() -> list:
    """Names of the registered post-processing steps (models with a ``stage``)."""
    return sorted(name for name, cls in MODELS.module_dict.items()
                  if getattr(cls, 'stage', None) in STAGES)


def build_postprocess(cfgs: Optional[Sequence[dict]]) -> nn.ModuleList:
    steps = nn.ModuleList()
    for cfg in cfgs or []:
        if not isinstance(cfg, dict) or 'type' not in cfg:
            raise ValueError(f'postprocess steps are dicts with a type, got {cfg!r}; known types: '
                             f'{postprocess_steps()}')
        if cfg['type'] not in postprocess_steps():
            raise ValueError(f"unknown postprocess step {cfg['type']!r}; known: "
                             f'{postprocess_steps()}')
        steps.append(MODELS.build(cfg))
    return steps


def _neighbours(x: torch.Tensor, dilations: Sequence[int], centre: bool) -> torch.Tensor:
    """(B, K, H, W) -> (B, K, P, H, W): values at the 3x3 neighbours of each pixel for every
    dilation d (replicate padding by d), without the centre (P = 8 |D|) or with it
    (P = 9 |D|)."""
    H, W = x.shape[-2:]
    out = []
    for d in dilations:
        padded = F.pad(x, [d] * 4, mode='replicate')
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dy == 0 and dx == 0 and not centre:
                    continue
                y0, x0 = d + dy * d, d + dx * d
                out.append(padded[..., y0:y0 + H, x0:x0 + W])
    return torch.stack(out, dim=2)


@MODELS.register_module()
class PAMR(nn.Module):
    """Pixel-adaptive mask refinement (Araslanov & Roth, CVPR'20), as NACLIP / SCLIP run it.

    Affinities from the image: for each pixel x and the P = 8 |D| dilated
    neighbours o (centre excluded), ``a(x, o) = mean_c -|I_c(x) - I_c(x+o)| /
    (1e-8 + 0.1 sigma_c(x))`` with ``sigma_c`` the unbiased std of ``I_c`` over
    the 3x3 neighbourhoods of all dilations (centre included, once per
    dilation), ``w = softmax_o a``.  Then ``num_iter`` times ``M(x) <-
    sum_o w(x, o) M(x + o)`` on every query channel (replicate padding).

    The image is resized bilinearly (``align_corners=False``) to the logits'
    size, and the computation runs in float32.  Queries are refined in chunks
    of at most ``max_chunk_elements / (P H W)`` channels, which bounds the
    temporary memory; refinement is independent per channel, so chunking does
    not change the result.

    Args:
        num_iter: iterations (NACLIP 10).
        dilations: neighbourhood dilations (NACLIP / SCLIP (8, 16)).
        max_chunk_elements: float elements of the largest temporary
            (default 2**27, 512 MB).
    """
    stage = 'logits'

    def __init__(self, num_iter: int = 10, dilations: Sequence[int] = (8, 16),
                 max_chunk_elements: int = 2 ** 27):
        super().__init__()
        if num_iter < 1 or not dilations or any(int(d) < 1 for d in dilations):
            raise ValueError(f'PAMR needs num_iter >= 1 and positive dilations, got '
                             f'{num_iter}, {dilations}')
        self.num_iter = int(num_iter)
        self.dilations = tuple(int(d) for d in dilations)
        self.max_chunk_elements = int(max_chunk_elements)

    def affinity(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) image -> (B, 1, P, H, W) neighbour weights (sum 1 over P)."""
        std = _neighbours(image, self.dilations, centre=True).std(dim=2, keepdim=True)
        diff = (image.unsqueeze(2) - _neighbours(image, self.dilations, centre=False)).abs()
        aff = (-diff / (1e-8 + 0.1 * std)).mean(dim=1, keepdim=True)
        return aff.softmax(dim=2)

    def refine(self, logits: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        for _ in range(self.num_iter):
            logits = (_neighbours(logits, self.dilations, centre=False) * weights).sum(dim=2)
        return logits

    def chunk_size(self, size: Tuple[int, int]) -> int:
        per_channel = 8 * len(self.dilations) * size[0] * size[1]
        return max(1, self.max_chunk_elements // per_channel)

    def forward(self, logits: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        size = tuple(logits.shape[-2:])
        image = F.interpolate(image.float(), size=size, mode='bilinear', align_corners=False)
        weights = self.affinity(image)
        dtype = logits.dtype
        logits = logits.float()
        chunk = self.chunk_size(size)
        out = [self.refine(part, weights) for part in logits.split(chunk, dim=1)]
        return torch.cat(out, dim=1).to(dtype)


@MODELS.register_module()
class AreaThreshold(nn.Module):
    """SCLIP's ``area_thd`` (VOC21): drop foreground classes with a small predicted area.

    With ``n_c`` the number of pixels whose argmax is class c and ``n_fg =
    sum_{c >= 1} n_c``, every foreground class (c >= 1) with ``n_c <= area_thd
    * n_fg`` gets probability 0 at all pixels.  The argmax and ``prob_thd``
    then run on the modified probabilities (which are also what the segmentor
    outputs, as in SCLIP).
    """
    stage = 'probs'

    def __init__(self, area_thd: float = 0.1):
        super().__init__()
        self.area_thd = float(area_thd)

    def dropped_classes(self, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
        """(H, W) argmax labels -> (C,) bool: the classes whose probability becomes 0."""
        counts = torch.bincount(labels.flatten(), minlength=num_classes)[1:].float()
        drop = counts <= self.area_thd * counts.sum()
        return torch.cat([drop.new_zeros(1), drop])

    def forward(self, probs: torch.Tensor) -> torch.Tensor:
        drop = self.dropped_classes(probs.argmax(dim=0), probs.shape[0])
        return probs.masked_fill(drop.view(-1, 1, 1), 0.0)
