"""DenseCLIPViT: a CLIP image tower whose last block is decoupled, the backbone of every
method here (ClearCLIP / SCLIP / NACLIP / MaskCLIP / ProxyCLIP / DeCLIP / DenseVLM); registered
also under its first name, ``DeCLIPViT``."""
from functools import partial
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS

from ...clip import build_clip, detach_visual
from ...registry import TOWERS
from ..utils.cpu_fast import fast_path_active
from .decoupled_attention import check_attn_mode, decoupled_attention
from .proxy_attention import ProxyGuide, lcm, proxy_mix


def wrap_visual_tower(visual: nn.Module) -> nn.Module:
    """The dense wrapper registered for ``visual``'s class (:data:`declip_mmseg.registry.TOWERS`)."""
    for visual_cls, tower_cls in TOWERS.items():
        if isinstance(visual, visual_cls):
            return tower_cls(visual)
    raise TypeError(
        f'No dense wrapper for visual tower {type(visual).__name__}; supported: '
        f'{[c.__name__ for c in TOWERS]}')


@MODELS.register_module()
@MODELS.register_module(name='DeCLIPViT')
class DenseCLIPViT(BaseModule):
    """CLIP ViT returning dense *content* and *context* features.

    Args:
        model_name: open_clip architecture, e.g. ``'ViT-B-16'``, ``'ViT-L-14-336'``,
            ``'EVA02-B-16'``, ``'EVA02-L-14-336'``.
        pretrained: open_clip tag (``'openai'``, ``'laion2b_s34b_b88k'``, ...) or
            the path of a local checkpoint file (open_clip or EVA-CLIP format);
            None gives random weights.
        attn_mode: rule of the last block's attention, see
            :mod:`declip_mmseg.models.decoupled_attention` ('qk', 'qq', 'kk',
            'vv', 'csa', 'all', 'naclip', 'identity'), or 'proxy' with ``proxy``.
        residual: keep the last block's residual connection.
        ffn: keep the last block's MLP.  ``residual=ffn=False`` is ClearCLIP
            and DeCLIP; ``'qk'`` with ``True/True`` is plain CLIP.
        attn_scale: factor on the similarity logits; None means
            ``head_dim ** -0.5``.
        checkpoint: fine-tuned weights loaded over ``pretrained`` (DeCLIP,
            DenseVLM, CLIPSelf files; may hold the image tower only).
        quick_gelu: force QuickGELU (None: decided from the weights' tag).
        proxy: ProxyCLIP's proxy attention, ``dict(vfm='dino-B-8',
            weights='checkpoints/dino_vitbase8_pretrain.pth', beta=1.2, gamma=3.0)``
            (see :class:`ProxyGuide`); needs ``attn_mode='proxy'`` and no residual or
            FFN.  Inputs must then be multiples of ``lcm(CLIP patch, VFM patch)``
            (:attr:`pad_multiple`) and ``content`` lies on the VFM's grid.
        clip: an open_clip model already built from these weights (by the segmentor, which
            keeps its text tower); its image tower is taken over. None builds the CLIP here
            and drops its text tower.

    Forward: ``content, context = backbone(img)`` with ``img`` (B, 3, H, W),
    CLIP-normalized, H and W multiples of the patch size p.

    * ``content``: (B, E, H/p, W/p) (proxy: the VFM's grid), patch features in the joint image-text
      space after the final norm and projection, not L2-normalized.
    * ``context``: ``{'q': (B, D, H/p, W/p), 'k': (B, D, H/p, W/p)}``, the last
      block's query and key projections of the patch tokens.
    """

    def __init__(self, model_name: str, pretrained: Optional[str] = None,
                 attn_mode: str = 'qq', residual: bool = False, ffn: bool = False,
                 attn_scale: Optional[float] = None, checkpoint: Optional[str] = None,
                 quick_gelu: Optional[bool] = None, proxy: Optional[dict] = None,
                 clip: Optional[nn.Module] = None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if proxy is not None:
            if attn_mode != 'proxy':
                raise ValueError(f"backbone.proxy is set, so the last block uses proxy attention: "
                                 f"set attn_mode='proxy' (got {attn_mode!r})")
            if residual or ffn:
                raise ValueError('proxy attention outputs tokens on the VFM grid and has no '
                                 'residual or FFN (ProxyCLIP); set residual=False, ffn=False')
        elif attn_mode == 'proxy':
            raise ValueError("attn_mode='proxy' needs backbone.proxy=dict(vfm=..., weights=...)")
        else:
            check_attn_mode(attn_mode)
        if clip is None:
            clip = build_clip(model_name, pretrained, checkpoint=checkpoint, quick_gelu=quick_gelu)
        self.model_name = model_name
        self.pretrained = pretrained
        self.checkpoint = checkpoint
        self.quick_gelu = quick_gelu
        self.tower = wrap_visual_tower(detach_visual(clip))
        self.attn_mode = attn_mode
        self.residual = residual
        self.ffn = ffn
        self.attn_scale = self.tower.default_attn_scale() if attn_scale is None else float(attn_scale)
        self.proxy = ProxyGuide.from_config(proxy) if proxy is not None else None

    @property
    def patch_size(self) -> int:
        return self.tower.patch_size

    @property
    def pad_multiple(self) -> int:
        """Input sides must be multiples of this: the patch size, with a proxy VFM
        ``lcm(CLIP patch, VFM patch)`` (ProxyCLIP pads windows to 56 = lcm(8, 14))."""
        if self.proxy is None:
            return self.patch_size
        return lcm(self.patch_size, self.proxy.patch_size)

    @property
    def embed_dim(self) -> int:
        return self.tower.embed_dim

    def init_weights(self):
        """Weights come from ``pretrained``; mmengine's re-initialisation is skipped."""

    def forward(self, img: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        B, _, H, W = img.shape
        p = self.patch_size
        if H % self.pad_multiple or W % self.pad_multiple:
            what = (f'the patch size {p}' if self.proxy is None else
                    f'lcm({p}, {self.proxy.patch_size}) = {self.pad_multiple} of the CLIP and VFM patches')
            raise ValueError(f'input size {H}x{W} is not a multiple of {what}; pad it first '
                             '(the segmentor does this)')
        grid = (H // p, W // p)
        x = self.tower.tokens_before_last_block(img)
        if self.proxy is None:
            out_grid = grid
            attend = partial(self._attend, grid=grid)
        else:  # the VFM runs once on the whole batch of windows
            weights, out_grid = self.proxy(img)
            attend = partial(self._attend_proxy, weights=weights, grid=grid, out_grid=out_grid)
        x, q, k = self.tower.last_block(x, attend, self.residual, self.ffn)
        content = self.tower.head(x[:, -out_grid[0] * out_grid[1]:])  # class token dropped

        def to_map(t, g):  # (B, 1 + n, C) or (B, n, C) -> (B, C, gh, gw)
            t = t[:, -g[0] * g[1]:]
            return t.transpose(1, 2).reshape(B, t.shape[-1], *g)

        return to_map(content, out_grid), {'q': to_map(q, grid), 'k': to_map(k, grid)}

    def _attend(self, q, k, v, grid):
        return decoupled_attention(q, k, v, self.attn_mode, self.attn_scale, grid,
                                   fused=fast_path_active(q))

    @staticmethod
    def _attend_proxy(q, k, v, weights, grid, out_grid):
        return proxy_mix(v, weights, grid, out_grid)
