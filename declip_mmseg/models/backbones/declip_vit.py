"""DeCLIPViT: a CLIP image tower whose last block is decoupled (ClearCLIP / DeCLIP)."""
from typing import Dict, Optional, Tuple

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS

from ..clip_loader import build_clip
from ..decoupled_attention import check_attn_mode
from .tower_registry import wrap_visual_tower


@MODELS.register_module()
class DeCLIPViT(BaseModule):
    """CLIP ViT returning dense *content* and *context* features.

    Args:
        model_name: open_clip architecture, e.g. ``'ViT-B-16'``, ``'ViT-L-14-336'``,
            ``'EVA02-B-16'``, ``'EVA02-L-14-336'``.
        pretrained: open_clip tag (``'openai'``, ``'laion2b_s34b_b88k'``, ...) or
            the path of a local checkpoint file (open_clip or EVA-CLIP format);
            None gives random weights.
        attn_mode: rule of the last block's attention, see
            :mod:`declip_mmseg.models.decoupled_attention` ('qk', 'qq', 'kk',
            'vv', 'csa', 'all', 'identity').
        residual: keep the last block's residual connection.
        ffn: keep the last block's MLP.  ``residual=ffn=False`` is ClearCLIP
            and DeCLIP; ``'qk'`` with ``True/True`` is plain CLIP.
        attn_scale: factor on the similarity logits; None means
            ``head_dim ** -0.5``.
        checkpoint: fine-tuned weights loaded over ``pretrained`` (DeCLIP,
            DenseVLM, CLIPSelf files; may hold the image tower only).
        quick_gelu: force QuickGELU (None: decided from the weights' tag).

    Forward: ``content, context = backbone(img)`` with ``img`` (B, 3, H, W),
    CLIP-normalized, H and W multiples of the patch size p.

    * ``content``: (B, E, H/p, W/p), patch features in the joint image-text
      space after the final norm and projection, not L2-normalized.
    * ``context``: ``{'q': (B, D, H/p, W/p), 'k': (B, D, H/p, W/p)}``, the last
      block's query and key projections of the patch tokens.
    """

    def __init__(self, model_name: str, pretrained: Optional[str] = None,
                 attn_mode: str = 'qq', residual: bool = False, ffn: bool = False,
                 attn_scale: Optional[float] = None, checkpoint: Optional[str] = None,
                 quick_gelu: Optional[bool] = None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        check_attn_mode(attn_mode)
        clip = build_clip(model_name, pretrained, checkpoint=checkpoint, quick_gelu=quick_gelu)
        self.model_name = model_name
        self.pretrained = pretrained
        self.checkpoint = checkpoint
        self.quick_gelu = quick_gelu
        self.tower = wrap_visual_tower(clip.visual)
        del clip  # the text tower is built separately by the text classifier
        self.attn_mode = attn_mode
        self.residual = residual
        self.ffn = ffn
        self.attn_scale = self.tower.default_attn_scale() if attn_scale is None else float(attn_scale)

    @property
    def patch_size(self) -> int:
        return self.tower.patch_size

    @property
    def embed_dim(self) -> int:
        return self.tower.embed_dim

    def init_weights(self):
        """Weights come from ``pretrained``; mmengine's re-initialisation is skipped."""

    def forward(self, img: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        B, _, H, W = img.shape
        p = self.patch_size
        if H % p or W % p:
            raise ValueError(f'input size {H}x{W} is not a multiple of the patch size {p}; '
                             'pad it first (the segmentor does this)')
        gh, gw = H // p, W // p
        x = self.tower.tokens_before_last_block(img)
        x, q, k = self.tower.last_block(x, self.attn_mode, self.attn_scale, self.residual, self.ffn)
        content = self.tower.head(x)

        def to_map(t):  # (B, 1 + N, C) or (B, N, C) -> (B, C, gh, gw)
            t = t[:, -gh * gw:]
            return t.transpose(1, 2).reshape(B, t.shape[-1], gh, gw)

        return to_map(content), {'q': to_map(q), 'k': to_map(k)}
