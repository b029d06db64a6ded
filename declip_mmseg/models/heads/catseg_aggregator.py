"""CAT-Seg's cost aggregator (CVPR'24 version, as the DeCLIP_CATSeg branch runs it).

Follows ``cat_seg/modeling/transformer/model.py`` of CAT-Seg ``main``; submodule names are the
branch's, so ``sem_seg_head.predictor.transformer.*`` of a released checkpoint loads as is
(see ``../shared/reference/catseg.md`` A.4 and A.7). Shapes: B images, T classes, P prompt
templates, (H, W) the CLIP patch grid (24 x 24), C the hidden width (128).

cost volume (B, P, T, H, W) -> ``conv1`` per class -> (B, C, T, H, W)
-> ``layers``: spatial Swin blocks per class (appearance guidance on q / k) + class-axis linear
attention (padded to ``pad_len`` classes with learned tokens) -> guided upsampling decoder
(x4) -> logits (B, T, 4H, 4W). Above ``pad_len`` classes only the ``pad_len`` with the highest
cost are aggregated (per image); the others get logit -100.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS

SKIPPED_CLASS_LOGIT = -100.0


def window_partition(x: torch.Tensor, size: int) -> torch.Tensor:
    """(N, H, W, C) -> (N * windows, size * size, C), windows in row-major order per image."""
    N, H, W, C = x.shape
    x = x.reshape(N, H // size, size, W // size, size, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, size * size, C)


def window_merge(x: torch.Tensor, size: int, H: int, W: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (N * windows, size * size, C) -> (N, H, W, C)."""
    C = x.shape[-1]
    x = x.reshape(-1, H // size, W // size, size, size, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, H, W, C)


def shifted_window_mask(H: int, W: int, size: int, shift: int) -> torch.Tensor:
    """(windows, size^2, size^2) additive mask of a cyclically shifted grid: -100 between tokens
    that come from different regions of the unshifted image, 0 otherwise (Swin)."""
    region = torch.zeros(1, H, W, 1)
    bounds = (slice(0, -size), slice(-size, -shift), slice(-shift, None))
    label = 0
    for rows in bounds:
        for cols in bounds:
            region[:, rows, cols, :] = label
            label += 1
    ids = window_partition(region, size).squeeze(-1)
    diff = ids[:, None, :] - ids[:, :, None]
    return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)


class GuidedWindowAttention(nn.Module):
    """Window self-attention whose q and k also see the appearance guidance (channels after the
    first ``dim``); v sees the features only. Scale ``head_dim ** -0.5``."""

    def __init__(self, dim: int, guidance_dim: int, num_heads: int):
        super().__init__()
        self.dim, self.num_heads = dim, num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.q = nn.Linear(dim + guidance_dim, dim)
        self.k = nn.Linear(dim + guidance_dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(N * windows, n, dim + guidance) -> (N * windows, n, dim)."""
        Bw, n, _ = x.shape
        h = self.num_heads

        def heads(t):
            return t.reshape(Bw, n, h, -1).transpose(1, 2)

        q, k, v = heads(self.q(x)) * self.scale, heads(self.k(x)), heads(self.v(x[..., :self.dim]))
        logits = q @ k.transpose(-2, -1)
        if mask is not None:
            windows = mask.shape[0]
            logits = (logits.reshape(-1, windows, h, n, n) + mask[None, :, None]).reshape(Bw, h, n, n)
        out = (logits.softmax(dim=-1) @ v).transpose(1, 2).reshape(Bw, n, -1)
        return self.proj(out)


class Mlp(nn.Module):
    """fc1 -> exact GELU -> fc2 (timm's ``Mlp`` layout)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class GuidedSwinBlock(nn.Module):
    """Pre-norm Swin block on one class's (H, W) cost embedding, optionally shifted."""

    def __init__(self, dim: int, guidance_dim: int, resolution: Sequence[int], num_heads: int,
                 window: int, shift: int):
        super().__init__()
        self.resolution, self.window, self.shift = tuple(resolution), window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = GuidedWindowAttention(dim, guidance_dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, 4 * dim)
        mask = shifted_window_mask(*self.resolution, window, shift) if shift > 0 else None
        self.register_buffer('attn_mask', mask)

    def forward(self, x: torch.Tensor, guidance: Optional[torch.Tensor]) -> torch.Tensor:
        """x: (N, H*W, C); guidance: (N, H*W, G) or None."""
        H, W = self.resolution
        N, L, C = x.shape
        y = self.norm1(x).reshape(N, H, W, C)
        if guidance is not None:
            y = torch.cat([y, guidance.reshape(N, H, W, -1)], dim=-1)
        if self.shift:
            y = torch.roll(y, shifts=(-self.shift, -self.shift), dims=(1, 2))
        y = self.attn(window_partition(y, self.window), mask=self.attn_mask)
        y = window_merge(y, self.window, H, W)
        if self.shift:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + y.reshape(N, L, C)
        return x + self.mlp(self.norm2(x))


class SpatialAggregation(nn.Module):
    """Two Swin blocks (plain, then shifted by half a window) on every class's cost map."""

    def __init__(self, dim: int, guidance_dim: int, resolution, num_heads: int, window: int):
        super().__init__()
        self.block_1 = GuidedSwinBlock(dim, guidance_dim, resolution, num_heads, window, 0)
        self.block_2 = GuidedSwinBlock(dim, guidance_dim, resolution, num_heads, window, window // 2)
        self.guidance_norm = nn.LayerNorm(guidance_dim) if guidance_dim > 0 else None

    def forward(self, x: torch.Tensor, guidance: Optional[torch.Tensor]) -> torch.Tensor:
        """x: (B, C, T, H, W); guidance: (B, G, H, W) or None."""
        B, C, T, H, W = x.shape
        tokens = x.permute(0, 2, 3, 4, 1).reshape(B * T, H * W, C)
        g = None
        if guidance is not None:  # batch-major repeat over the classes
            g = guidance.flatten(2).transpose(1, 2)
            g = self.guidance_norm(g[:, None].expand(B, T, H * W, g.shape[-1]).reshape(B * T, H * W, -1))
        tokens = self.block_2(self.block_1(tokens, g), g)
        return tokens.reshape(B, T, H, W, C).permute(0, 4, 1, 2, 3)


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     eps: float = 1e-6) -> torch.Tensor:
    """Linear attention with the elu + 1 feature map (LoFTR's), (N, L, heads, d) each.

    Values are divided by the length before the products and multiplied back after, as the
    reference does (it changes the rounding only)."""
    q, k = F.elu(q) + 1, F.elu(k) + 1
    length = v.shape[1]
    kv = torch.einsum('nshd,nshv->nhdv', k, v / length)
    z = 1.0 / (torch.einsum('nlhd,nhd->nlh', q, k.sum(dim=1)) + eps)
    return torch.einsum('nlhd,nhdv,nlh->nlhv', q, kv, z) * length


class ClassAttention(nn.Module):
    """q / k from features + text guidance, v from the features; linear attention over classes."""

    def __init__(self, dim: int, guidance_dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim + guidance_dim, dim)
        self.k = nn.Linear(dim + guidance_dim, dim)
        self.v = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, guidance: Optional[torch.Tensor]) -> torch.Tensor:
        """(N, T, C) and (N, T, G) -> (N, T, C)."""
        xg = torch.cat([x, guidance], dim=-1) if guidance is not None else x
        N, T, C = x.shape

        def heads(t):
            return t.reshape(N, T, self.num_heads, -1)

        return linear_attention(heads(self.q(xg)), heads(self.k(xg)), heads(self.v(x))).reshape(N, T, C)


class ClassAggregation(nn.Module):
    """Attention along the class axis at every (pooled) position, padded to ``pad_len`` classes.

    The map of every class is average-pooled by ``pooling_size``; when T < ``pad_len`` the class
    axis is filled up with the learned ``padding_tokens`` (and the text guidance with
    ``padding_guidance``); pre-norm attention + MLP, both residual; the padding is dropped and the
    result upsampled back (bilinear, ``align_corners=True``) and added to the input. With
    T >= ``pad_len`` the padding joins the graph with weight 0 (a zero gradient, for DDP).
    """

    def __init__(self, dim: int, guidance_dim: int, num_heads: int, pooling_size, pad_len: int):
        super().__init__()
        self.pool = nn.AvgPool2d(tuple(pooling_size))
        self.attention = ClassAttention(dim, guidance_dim, num_heads)
        self.MLP = nn.Sequential(nn.Linear(dim, 4 * dim), nn.ReLU(), nn.Linear(4 * dim, dim))
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.pad_len = pad_len
        self.padding_tokens = nn.Parameter(torch.zeros(1, 1, dim)) if pad_len > 0 else None
        self.padding_guidance = (nn.Parameter(torch.zeros(1, 1, guidance_dim))
                                 if pad_len > 0 and guidance_dim > 0 else None)

    def forward(self, x: torch.Tensor, guidance: Optional[torch.Tensor]) -> torch.Tensor:
        """x: (B, C, T, H, W); guidance: (B, T, G) or None."""
        B, C, T, H, W = x.shape
        pooled = self.pool(x.permute(0, 2, 1, 3, 4).reshape(B * T, C, H, W))
        h, w = pooled.shape[-2:]
        tokens = pooled.reshape(B, T, C, h * w).permute(0, 3, 1, 2)  # (B, hw, T, C)
        pad = self.pad_len - T if self.padding_tokens is not None else 0
        if pad > 0:
            tokens = torch.cat([tokens, self.padding_tokens.expand(B, h * w, pad, C)], dim=2)
            if guidance is not None and self.padding_guidance is not None:
                guidance = torch.cat(
                    [guidance, self.padding_guidance.expand(B, pad, guidance.shape[-1])], dim=1)
        elif self.padding_tokens is not None and torch.is_grad_enabled():
            # T >= pad_len (the top-pad_len selection above it): the padding is unused. Weight 0
            # keeps it in the graph, else DDP (find_unused_parameters=False) reduces no gradient
            # in this step and stops at the next one
            unused = [p for p in (self.padding_tokens, self.padding_guidance) if p is not None]
            tokens = tokens + 0 * sum(p.sum() for p in unused)
        tokens = tokens.reshape(B * h * w, T + max(pad, 0), C)
        if guidance is not None:
            guidance = guidance[:, None].expand(B, h * w, *guidance.shape[1:]).reshape(
                B * h * w, *guidance.shape[1:])
        tokens = tokens + self.attention(self.norm1(tokens), guidance)
        tokens = tokens + self.MLP(self.norm2(tokens))
        tokens = tokens.reshape(B, h, w, -1, C)[:, :, :, :T]  # drop the padding
        tokens = tokens.permute(0, 3, 4, 1, 2).reshape(B * T, C, h, w)
        tokens = F.interpolate(tokens, size=(H, W), mode='bilinear', align_corners=True)
        return x + tokens.reshape(B, T, C, H, W).permute(0, 2, 1, 3, 4)


class AggregatorLayer(nn.Module):
    """``swin_block`` (spatial) then ``attention`` (class axis)."""

    def __init__(self, dim, text_guidance_dim, appearance_guidance_dim, num_heads, resolution,
                 pooling_size, window, pad_len):
        super().__init__()
        self.swin_block = SpatialAggregation(dim, appearance_guidance_dim, resolution, num_heads, window)
        self.attention = ClassAggregation(dim, text_guidance_dim, num_heads, pooling_size, pad_len)

    def forward(self, x, appearance_guidance, text_guidance):
        return self.attention(self.swin_block(x, appearance_guidance), text_guidance)


class DoubleConv(nn.Module):
    """(conv 3x3 no bias -> GroupNorm(out // 16) -> ReLU) x 2, as ``double_conv``."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        groups = out_ch // 16
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False), nn.GroupNorm(groups, out_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False), nn.GroupNorm(groups, out_ch),
            nn.ReLU(inplace=True))

    def forward(self, x):
        return self.double_conv(x)


class GuidedUp(nn.Module):
    """x2 transposed conv to ``in_ch - guidance_ch`` channels, concatenated with the guidance
    (repeated per class, batch-major), then :class:`DoubleConv`."""

    def __init__(self, in_ch: int, out_ch: int, guidance_ch: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_ch, in_ch - guidance_ch, kernel_size=2, stride=2)
        self.conv = DoubleConv(in_ch, out_ch)

    def forward(self, x: torch.Tensor, guidance: Optional[torch.Tensor]) -> torch.Tensor:
        """x: (B*T, C, h, w); guidance: (B, G, 2h, 2w) or None."""
        x = self.up(x)
        if guidance is not None:
            T = x.shape[0] // guidance.shape[0]
            guidance = guidance.repeat_interleave(T, dim=0)
            x = torch.cat([x, guidance], dim=1)
        return self.conv(x)


@MODELS.register_module()
class CATSegAggregator(BaseModule):
    """Cost volume + aggregation + decoder; the B/16 values of ``eva_vitb_384.yaml`` by default.

    Args:
        text_guidance_dim / appearance_guidance_dim: CLIP embedding width (512 B, 768 L).
        decoder_guidance_dims: channels of the two upsampled guidance maps (256, 128).
        prompt_channel: number of prompt templates P.
        pooling_sizes: class-attention average pooling, (2, 2) in training and the one-view
            protocol, (1, 1) in CAT-Seg's sliding-window evaluation.
        feature_resolution: CLIP patch grid (24, 24).
        pad_len: class-axis length of the linear attention; 0 disables padding and selection.
    """

    def __init__(self, text_guidance_dim: int = 512, text_guidance_proj_dim: int = 128,
                 appearance_guidance_dim: int = 512, appearance_guidance_proj_dim: int = 128,
                 decoder_dims: Sequence[int] = (64, 32),
                 decoder_guidance_dims: Sequence[int] = (256, 128),
                 decoder_guidance_proj_dims: Sequence[int] = (32, 16),
                 num_layers: int = 2, num_heads: int = 4, hidden_dim: int = 128,
                 pooling_sizes: Sequence[int] = (2, 2), feature_resolution: Sequence[int] = (24, 24),
                 window_sizes: int = 12, prompt_channel: int = 1, pad_len: int = 256, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.pooling_sizes = tuple(pooling_sizes)
        self.pad_len = int(pad_len)
        self.layers = nn.ModuleList([
            AggregatorLayer(hidden_dim, text_guidance_proj_dim, appearance_guidance_proj_dim,
                            num_heads, feature_resolution, pooling_sizes, window_sizes, pad_len)
            for _ in range(num_layers)])
        self.conv1 = nn.Conv2d(prompt_channel, hidden_dim, kernel_size=7, stride=1, padding=3)
        self.guidance_projection = nn.Sequential(
            nn.Conv2d(appearance_guidance_dim, appearance_guidance_proj_dim, 3, padding=1), nn.ReLU())
        self.text_guidance_projection = nn.Sequential(
            nn.Linear(text_guidance_dim, text_guidance_proj_dim), nn.ReLU())
        self.decoder_guidance_projection = nn.ModuleList([
            nn.Sequential(nn.Conv2d(d, p, 3, padding=1), nn.ReLU())
            for d, p in zip(decoder_guidance_dims, decoder_guidance_proj_dims)])
        self.decoder1 = GuidedUp(hidden_dim, decoder_dims[0], decoder_guidance_proj_dims[0])
        self.decoder2 = GuidedUp(decoder_dims[0], decoder_dims[1], decoder_guidance_proj_dims[1])
        self.head = nn.Conv2d(decoder_dims[1], 1, kernel_size=3, padding=1)

    def set_pooling(self, pooling_sizes: Sequence[int]) -> None:
        """Change the class-attention pooling (no weights depend on it)."""
        self.pooling_sizes = tuple(pooling_sizes)
        for layer in self.layers:
            layer.attention.pool = nn.AvgPool2d(self.pooling_sizes)

    @staticmethod
    def cost_volume(img_feats: torch.Tensor, text_feats: torch.Tensor) -> torch.Tensor:
        """Cosine similarity: (B, C, H, W) x (B, T, P, C) -> (B, P, T, H, W)."""
        img = F.normalize(img_feats, dim=1)
        txt = F.normalize(text_feats, dim=-1)
        return torch.einsum('bchw,btpc->bpthw', img, txt)

    def select_classes(self, corr: torch.Tensor) -> torch.Tensor:
        """(B, P, T, H, W) -> (B, pad_len) indices of the classes with the highest maximum cost
        (over templates and positions), per image, in ``topk``'s (unsorted) order."""
        best = corr.transpose(1, 2).flatten(2).max(dim=-1).values
        return best.topk(self.pad_len, dim=-1, sorted=False).indices

    def forward(self, img_feats: torch.Tensor, text_feats: torch.Tensor,
                guidance: List[torch.Tensor]) -> torch.Tensor:
        """Logits (B, T, 4H, 4W).

        Args:
            img_feats: dense CLIP features (B, C, H, W).
            text_feats: class embeddings (B, T, P, C).
            guidance: ``[res3 (B, C, H, W), res4 (B, 256, 2H, 2W), res5 (B, 128, 4H, 4W)]``.
        """
        corr = self.cost_volume(img_feats, text_feats)
        classes, num_classes = None, text_feats.shape[1]
        if 0 < self.pad_len < num_classes:
            classes = self.select_classes(corr)
            index = classes[:, :, None, None].expand(-1, -1, *text_feats.shape[2:])
            text_feats = torch.gather(F.normalize(text_feats, dim=-1), 1, index)
            corr = self.cost_volume(img_feats, text_feats)
        B, P, T, H, W = corr.shape
        x = self.conv1(corr.transpose(1, 2).reshape(B * T, P, H, W))
        x = x.reshape(B, T, -1, H, W).transpose(1, 2)  # (B, C, T, H, W)
        appearance = self.guidance_projection(guidance[0])
        decoder_guidance = [proj(g) for proj, g in zip(self.decoder_guidance_projection, guidance[1:])]
        text = F.normalize(text_feats.mean(dim=-2), dim=-1)
        text = self.text_guidance_projection(text)
        for layer in self.layers:
            x = layer(x, appearance, text)
        x = x.transpose(1, 2).reshape(B * T, -1, H, W)
        x = self.decoder2(self.decoder1(x, decoder_guidance[0]), decoder_guidance[1])
        logits = self.head(x).reshape(B, T, *x.shape[-2:])
        if classes is None:
            return logits
        out = logits.new_full((B, num_classes, *logits.shape[-2:]), SKIPPED_CLASS_LOGIT)
        return out.scatter(1, classes[:, :, None, None].expand_as(logits), logits)
