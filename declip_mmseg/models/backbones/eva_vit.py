"""Dense forward of EVA02 visual towers (open_clip ``TimmModel`` around timm's ``Eva``).

EVA02 adds rotary position embeddings (RoPE), SwiGLU MLPs and a LayerNorm
inside attention (sub-LN) to the ViT.  The decoupled last block follows
DeCLIP's own EVA code (``Attention.ss_attn`` / ``Block.forward_without_rcffn``):

* q (with its bias), k (no bias) and v (with its bias) from the block's
  separate projections of ``norm1(x)``; **no RoPE** in the decoupled path;
* the logits factor is ``attn_scale`` (DeCLIP trained with 1.0, unscaled);
* the heads' output goes through the inner LayerNorm, then the output
  projection, then LayerScale ``gamma_1`` when the block has one;
* the context features are the RoPE-free q and k of the patch tokens.

Earlier blocks run unchanged (timm's fused attention) with RoPE computed for
the actual patch grid, positions scaled to the pretraining grid as EVA-CLIP's
``VisionRotaryEmbeddingFast`` does, and absolute positions resized bicubically
(``align_corners=False``) as DeCLIP's ``rescale_positional_embedding``.
"""
from typing import Callable, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from open_clip.timm_model import TimmModel
from timm.models.eva import Eva

from ...registry import register_tower


def eva_rope(grid: Tuple[int, int], head_dim: int, ref_grid: int = 16,
             theta: float = 10000.0) -> torch.Tensor:
    """Rotary embedding of a (gh, gw) patch grid in timm's layout: cat(sin, cos), (gh*gw, 2*head_dim).

    Row and column positions are ``arange(n) / n * ref_grid``; each axis gets
    half of the head's channels, frequencies ``theta ** (-2i / (head_dim/2))``
    repeated pairwise (interleaved rotation).
    """
    gh, gw = grid
    half = head_dim // 2
    freqs = 1.0 / (theta ** (torch.arange(0, half, 2)[:half // 2].float() / half))
    rows = torch.outer(torch.arange(gh) / gh * ref_grid, freqs).repeat_interleave(2, dim=-1)
    cols = torch.outer(torch.arange(gw) / gw * ref_grid, freqs).repeat_interleave(2, dim=-1)
    angles = torch.cat([rows[:, None, :].expand(gh, gw, half),
                        cols[None, :, :].expand(gh, gw, half)], dim=-1).reshape(gh * gw, head_dim)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


@register_tower(TimmModel)
class EVAViTTower(nn.Module):
    """Wraps open_clip's ``TimmModel`` whose trunk is a timm ``Eva`` (EVA02-B-16, EVA02-L-14-336)."""

    def __init__(self, visual: TimmModel):
        super().__init__()
        trunk = visual.trunk
        if not isinstance(trunk, Eva):
            raise TypeError(f'DeCLIPViT supports timm EVA towers, not {type(trunk).__name__}')
        attn = trunk.blocks[-1].attn
        if attn.q_proj is None:
            raise TypeError('EVA towers with a fused qkv projection are not supported')
        self.visual = visual
        self.patch_size = trunk.patch_embed.patch_size[0]
        self.width = trunk.embed_dim
        self.num_heads = attn.num_heads
        self.head_dim = attn.head_dim
        self.embed_dim = trunk.head.out_features
        self.pretrain_grid = tuple(trunk.patch_embed.grid_size)
        rope = getattr(trunk, 'rope', None)
        self.rope_ref_grid = rope.ref_feat_shape[0] if rope is not None else None

    @property
    def trunk(self) -> Eva:
        """timm's Eva inside the open_clip wrapper (not registered twice: optimizers would
        see its parameters twice)."""
        return self.visual.trunk

    def default_attn_scale(self) -> float:
        return self.head_dim ** -0.5

    def pos_embed(self, grid: Tuple[int, int]) -> torch.Tensor:
        """Absolute positions for a (gh, gw) grid, shape (1, 1 + gh*gw, D)."""
        pos = self.trunk.pos_embed
        if tuple(grid) == self.pretrain_grid:
            return pos
        g0h, g0w = self.pretrain_grid
        patch = pos[0, 1:].T.reshape(1, -1, g0h, g0w)
        patch = F.interpolate(patch, size=tuple(grid), mode='bicubic', align_corners=False)
        return torch.cat([pos[:, :1], patch.reshape(1, pos.shape[-1], -1).transpose(1, 2)], dim=1)

    def tokens_before_last_block(self, img: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> tokens entering the last block, (B, 1 + N, D)."""
        t = self.trunk
        x = t.patch_embed.proj(img)
        grid = tuple(x.shape[-2:])
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([t.cls_token.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)
        x = x + self.pos_embed(grid).to(x.dtype)
        rope = None
        if self.rope_ref_grid is not None:
            rope = eva_rope(grid, self.head_dim, self.rope_ref_grid).to(x.device, x.dtype)
        for blk in t.blocks[:-1]:
            x = blk(x, rope=rope)
        return x

    def last_block(self, x: torch.Tensor, attend: Callable, residual: bool,
                   ffn: bool) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decoupled last block; ``attend`` as in ``OpenCLIPViTTower.last_block``.

        Returns the output (B, T, D) and RoPE-free q, k (B, 1+N, D).
        """
        blk = self.trunk.blocks[-1]
        attn = blk.attn
        B, N, D = x.shape
        h = self.num_heads
        y = blk.norm1(x)
        q, k, v = attn.q_proj(y), attn.k_proj(y), attn.v_proj(y)

        def heads(t):
            return t.reshape(B, N, h, -1).transpose(1, 2).reshape(B * h, N, -1)

        out = attend(heads(q), heads(k), heads(v))
        T = out.shape[1]
        out = out.reshape(B, h, T, -1).transpose(1, 2).reshape(B, T, -1)
        out = attn.proj(attn.norm(out))
        if blk.gamma_1 is not None:
            out = blk.gamma_1 * out
        if residual:
            out = x + out
        if ffn:
            mlp = blk.mlp(blk.norm2(out))
            out = out + (blk.gamma_2 * mlp if blk.gamma_2 is not None else mlp)
        return out, q, k

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Final norm and projection of tokens: (B, T, D) -> (B, T, E)."""
        t = self.trunk
        return self.visual.head(t.head(t.fc_norm(t.norm(x))))
