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
from typing import Callable, Tuple

import torch
import torch.nn.functional as F

from ...registry import register_patch_fit
from .sliding_window import centered_padding

Restore = Callable[[torch.Tensor, bool], torch.Tensor]


def _stretch_to(size) -> Restore:
    return lambda logits, grid_if_unpadded: F.interpolate(logits, size=size, mode='bilinear')


@register_patch_fit('floor')
def fit_floor(inputs: torch.Tensor, m: int) -> Tuple[torch.Tensor, Restore]:
    H, W = inputs.shape[-2:]
    if H < m or W < m:
        raise ValueError(f"patch_fit='floor': input {H}x{W} is smaller than a patch")
    return inputs[:, :, :H - H % m, :W - W % m], _stretch_to((H, W))


@register_patch_fit('corner')
def fit_corner(inputs: torch.Tensor, m: int) -> Tuple[torch.Tensor, Restore]:
    H, W = inputs.shape[-2:]
    right, bottom = (-W) % m, (-H) % m
    padded = F.pad(inputs, (0, right, 0, bottom)) if (right or bottom) else inputs
    return padded, _stretch_to((H, W))


@register_patch_fit('pad')
def fit_pad(inputs: torch.Tensor, m: int) -> Tuple[torch.Tensor, Restore]:
    H, W = inputs.shape[-2:]
    left, right, top, bottom = centered_padding(H, W, m)
    if not (left or right or top or bottom):
        return inputs, lambda logits, grid_if_unpadded: (
            logits if grid_if_unpadded else F.interpolate(logits, size=(H, W), mode='bilinear'))
    padded = F.pad(inputs, (left, right, top, bottom))

    def restore(logits, grid_if_unpadded):
        logits = F.interpolate(logits, size=padded.shape[-2:], mode='bilinear')
        return logits[:, :, top:top + H, left:left + W]
    return padded, restore

