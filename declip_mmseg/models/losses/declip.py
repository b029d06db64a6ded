"""DeCLIP's distillation losses (CVPR'25, arXiv 2505.04410, ``training/declip.py``): content
features to the CLIP crop embeddings, context affinities to a VFM's."""
import torch
import torch.nn.functional as F


def content_loss(student_rois: torch.Tensor, teacher_embeds: torch.Tensor) -> torch.Tensor:
    """``1 - mean cosine`` between RoI features (K, E) of the student's content map and the
    teacher's image embeddings (K, E) of the same K crops; both L2-normalized here."""
    s = F.normalize(student_rois, dim=-1)
    t = F.normalize(teacher_embeds, dim=-1)
    return 1.0 - (s * t).sum(-1).mean()


def affinity(features: torch.Tensor) -> torch.Tensor:
    """Cosine self-similarity of patch features: (..., C, h, w) -> (..., h*w, h*w)."""
    f = F.normalize(features.flatten(-2), dim=-2)
    return f.transpose(-1, -2) @ f


def context_loss(vfm_features: torch.Tensor, context: dict, mode: str, num_heads: int) -> torch.Tensor:
    """Mean over rows of ``||A_vfm - A_student||_2`` (no square, no temperature).

    Args:
        vfm_features: (B, C, H, W) VFM patch features.
        context: ``{'q': (B, D, h, w), 'k': (B, D, h, w)}``, the student's last-block query /
            key projections; resized bilinearly to (H, W) when the grids differ.
        mode: ``'qq'`` / ``'kk'``: affinity of q (or k) over all D channels (heads merged);
            ``'csa'``: per head, the mean of the q-q and k-k affinities of that head's
            channels, each head compared with the VFM affinity (DeCLIP computes this for one
            image per GPU; here every image of the batch is handled the same way).
        num_heads: attention heads of the student's last block (for ``'csa'``).
    """
    target = affinity(vfm_features)                                   # (B, N, N)
    size = vfm_features.shape[-2:]

    def resized(x):
        if x.shape[-2:] != size:
            x = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        return x

    if mode in ('qq', 'kk'):
        student = affinity(resized(context['q' if mode == 'qq' else 'k']))
        return (target - student).norm(p=2, dim=-1).mean()
    if mode == 'csa':
        def per_head(x):  # (B, D, H, W) -> (B, heads, D/heads, H, W)
            x = resized(x)
            return x.reshape(x.shape[0], num_heads, -1, *x.shape[-2:])
        student = (affinity(per_head(context['q'])) + affinity(per_head(context['k']))) / 2
        return (target[:, None] - student).norm(p=2, dim=-1).mean()
    raise ValueError(f"context distillation mode must be 'qq', 'kk' or 'csa', got {mode!r}")
