"""Dense forward of open_clip's ``VisionTransformer`` (OpenAI-architecture ViTs).

Used by :class:`DeCLIPViT` through the tower registry; one class per family of
visual towers keeps ``DeCLIPViT`` free of architecture if-chains.
"""
import math
from typing import Callable, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

from ...registry import register_tower
from ..utils.cpu_fast import fast_path_active, fused_mlp


def fused_block(blk: ResidualAttentionBlock, x: torch.Tensor) -> torch.Tensor:
    """open_clip's ``ResidualAttentionBlock`` (no mask, batch-first (B, T, D)) with its attention
    through ``F.scaled_dot_product_attention``: the CPU fast path
    (:mod:`declip_mmseg.models.utils.cpu_fast`); the same arithmetic as ``blk(x)``."""
    attn = blk.attn
    B, T, D = x.shape
    h = attn.num_heads
    qkv = F.linear(blk.ln_1(x), attn.in_proj_weight, attn.in_proj_bias)
    q, k, v = qkv.view(B, T, 3, h, D // h).permute(2, 0, 3, 1, 4)
    out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, D)
    x = x + blk.ls_1(attn.out_proj(out))
    mlp = blk.mlp
    return x + blk.ls_2(fused_mlp(mlp.c_fc, mlp.gelu, mlp.c_proj, blk.ln_2(x)))


@register_tower(VisionTransformer)
class OpenCLIPViTTower(nn.Module):
    """Wraps an open_clip ``VisionTransformer``; owns its parameters.

    Shapes: D is the tower width, E the joint embedding size, p the patch
    size, N = (H/p) * (W/p) patch tokens plus one class token in front.
    """

    def __init__(self, visual: VisionTransformer):
        super().__init__()
        if not isinstance(visual.transformer.resblocks[-1].attn, nn.MultiheadAttention):
            raise TypeError('DeCLIPViT supports open_clip ViTs whose blocks use '
                            'nn.MultiheadAttention (the OpenAI architecture)')
        if getattr(visual, 'attn_pool', None) is not None:
            raise TypeError('ViTs with attentional pooling (CoCa) have no dense head')
        self.visual = visual
        self.patch_size = visual.patch_size[0]
        self.width = visual.conv1.out_channels
        self.embed_dim = visual.proj.shape[1]
        self.num_heads = visual.transformer.resblocks[-1].attn.num_heads
        self.batch_first = getattr(visual.transformer, 'batch_first', True)

    def default_attn_scale(self) -> float:
        return (self.width // self.num_heads) ** -0.5

    def pos_embed(self, grid: Tuple[int, int]) -> torch.Tensor:
        """Positional embedding for a (gh, gw) patch grid, shape (1 + gh*gw, D).

        Bicubic resampling with a scale factor of (g + 0.1) / g0, the rule of
        ClearCLIP / SCLIP, so that dense features match theirs to rounding.
        """
        pos = self.visual.positional_embedding
        g0 = int(math.sqrt(pos.shape[0] - 1))
        if (g0, g0) == tuple(grid):
            return pos
        gh, gw = grid
        patch_pos = pos[1:].reshape(1, g0, g0, -1).permute(0, 3, 1, 2)
        patch_pos = F.interpolate(patch_pos, scale_factor=((gh + 0.1) / g0, (gw + 0.1) / g0),
                                  mode='bicubic')
        assert patch_pos.shape[-2:] == (gh, gw), patch_pos.shape
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(gh * gw, -1)
        return torch.cat([pos[:1], patch_pos], dim=0)

    def tokens_before_last_block(self, img: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> tokens entering the last block, (B, 1 + N, D)."""
        v = self.visual
        x = v.conv1(img)
        grid = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)
        cls = v.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed(grid).to(x.dtype)
        x = v.ln_pre(x)
        blocks = v.transformer.resblocks[:-1]
        if fast_path_active(x) and all(type(b) is ResidualAttentionBlock for b in blocks):
            for blk in blocks:
                x = fused_block(blk, x)
            return x
        if not self.batch_first:
            x = x.transpose(0, 1)
        for blk in blocks:
            x = blk(x)
        return x if self.batch_first else x.transpose(0, 1)

    def last_block(self, x: torch.Tensor, attend: Callable, residual: bool,
                   ffn: bool) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decoupled last block.

        ``attend(q, k, v)`` maps per-head projections (B*heads, 1 + N, d) of
        ``ln_1(x)`` to per-head outputs (B*heads, T, d) (T = 1 + N for the
        attention rules, the VFM grid's M for proxy attention).  Returns the
        block output (B, T, D) and the query and key projections of all
        tokens, each (B, 1 + N, D).
        """
        blk = self.visual.transformer.resblocks[-1]
        attn = blk.attn
        B, N, D = x.shape
        h = self.num_heads
        q, k, v = F.linear(blk.ln_1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)

        def heads(t):
            return t.reshape(B, N, h, D // h).transpose(1, 2).reshape(B * h, N, D // h)

        out = attend(heads(q), heads(k), heads(v))
        T = out.shape[1]
        out = out.reshape(B, h, T, D // h).transpose(1, 2).reshape(B, T, D)
        out = blk.ls_1(attn.out_proj(out))
        if residual:
            out = x + out
        if ffn:
            out = out + blk.ls_2(blk.mlp(blk.ln_2(out)))
        return out, q, k

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Final LayerNorm and projection of tokens: (B, T, D) -> (B, T, E)."""
        return self.visual.ln_post(x) @ self.visual.proj
