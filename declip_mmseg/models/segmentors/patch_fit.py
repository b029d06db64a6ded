"""How an input whose sides are not multiples of the patch size meets the patch grid
(``ZeroShotSegmentor(patch_fit=...)``, :data:`declip_mmseg.registry.PATCH_FITS`).

Each rule maps a window batch (B, 3, H, W) and the multiple ``m`` to the network input and a
``restore(logits, grid_if_unpadded)`` that brings the patch-grid logits (B, Q, h, w) back to
(B, Q, H, W) (bilinear, ``align_corners=False``):

=======  ==================================================================================
pad      centred zero padding (odd pixel right / bottom), logits upsampled to the padded size
         and cropped back: ClearCLIP, ProxyCLIP, DeCLIP; with ``grid_if_unpadded`` and no
         padding needed the grid logits are returned as they are (ClearCLIP's whole-image rule)
floor    the bottom / right remainder is ignored, as the patch convolution does, logits
         stretched to the full input: SCLIP, NACLIP
corner   zero padding at the bottom / right, logits of the padded grid stretched to the input:
         MaskCLIP (mmseg's ``PatchEmbed(padding='corner')``)
=======  ==================================================================================
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from ...registry import register_patch_fit
from .sliding_window import centered_padding


def resize_matrix(in_size: int, out_size: int) -> torch.Tensor:
    """(out_size, in_size) weights of one axis of ``F.interpolate(mode='bilinear',
    align_corners=False)``, read from torch's own resize of a one-pixel-wide identity."""
    eye = torch.eye(in_size).view(1, in_size, in_size, 1)
    return F.interpolate(eye, size=(out_size, 1), mode='bilinear')[0, :, :, 0].T.contiguous()


class Restore:
    """``restore(logits, grid_if_unpadded)``: patch-grid logits (B, Q, h, w) -> (B, Q, H, W),
    a bilinear resize to ``size`` then the crop ``box`` (top, left, H, W) if given.

    ``keep_grid``: with ``grid_if_unpadded`` the grid is returned as it is (ClearCLIP's
    whole-image rule, only where no padding was added). :meth:`matrices` gives the same map
    as one matrix per axis (:mod:`.candidate_labels`).
    """

    def __init__(self, size: Tuple[int, int], box: Optional[Tuple[int, int, int, int]] = None,
                 keep_grid: bool = False):
        self.size, self.box, self.keep_grid = tuple(size), box, keep_grid

    def __call__(self, logits: torch.Tensor, grid_if_unpadded: bool) -> torch.Tensor:
        if self.keep_grid and grid_if_unpadded:
            return logits
        logits = F.interpolate(logits, size=self.size, mode='bilinear')
        if self.box is None:
            return logits
        top, left, H, W = self.box
        return logits[:, :, top:top + H, left:left + W]

    def matrices(self, grid: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
        """rows (H, h) and cols (W, w) with ``restore(g) = rows @ g @ cols^T`` per channel."""
        rows, cols = resize_matrix(grid[0], self.size[0]), resize_matrix(grid[1], self.size[1])
        if self.box is not None:
            top, left, H, W = self.box
            rows, cols = rows[top:top + H], cols[left:left + W]
        return rows, cols


@register_patch_fit('floor')
def fit_floor(inputs: torch.Tensor, m: int) -> Tuple[torch.Tensor, Restore]:
    H, W = inputs.shape[-2:]
    if H < m or W < m:
        raise ValueError(f"patch_fit='floor': input {H}x{W} is smaller than a patch")
    return inputs[:, :, :H - H % m, :W - W % m], Restore((H, W))


@register_patch_fit('corner')
def fit_corner(inputs: torch.Tensor, m: int) -> Tuple[torch.Tensor, Restore]:
    H, W = inputs.shape[-2:]
    right, bottom = (-W) % m, (-H) % m
    padded = F.pad(inputs, (0, right, 0, bottom)) if (right or bottom) else inputs
    return padded, Restore((H, W))


@register_patch_fit('pad')
def fit_pad(inputs: torch.Tensor, m: int) -> Tuple[torch.Tensor, Restore]:
    H, W = inputs.shape[-2:]
    left, right, top, bottom = centered_padding(H, W, m)
    if not (left or right or top or bottom):
        return inputs, Restore((H, W), keep_grid=True)
    padded = F.pad(inputs, (left, right, top, bottom))
    return padded, Restore(tuple(padded.shape[-2:]), (top, left, H, W))
