"""Distillation losses: DeCLIP's two (``training/declip.py``), DenseVLM's decoupled KL
(``training/densevlm.py``) and RegionCLIP's pseudo-label BCE (``training/region_clip.py``)."""
import logging

import torch
import torch.nn.functional as F
from mmengine.logging import print_log


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


# -- DenseVLM (ICCV'25, ``training/densevlm.py``) -------------------------------------------------
def _kl_batchmean(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """KL(softmax(teacher) || softmax(student)) summed over classes, averaged over rows
    (``F.kl_div(log_softmax(s), softmax(t), reduction='batchmean')``)."""
    return F.kl_div(student_logits.log_softmax(dim=-1), teacher_logits.softmax(dim=-1),
                    reduction='batchmean')


def densevlm_loss_with_stats(teacher_regions: torch.Tensor, student_regions: torch.Tensor,
                             teacher_text: torch.Tensor, student_text: torch.Tensor,
                             num_thing_classes: int = 203, temperature: float = 100.0,
                             min_confidence: float = 0.3):
    """:func:`densevlm_loss` plus region counts ``dict(regions, kept, thing, stuff)`` (ints)."""
    if teacher_regions.shape[0] != student_regions.shape[0]:
        raise ValueError(f'{teacher_regions.shape[0]} teacher regions but '
                         f'{student_regions.shape[0]} student regions')
    for name, text, regions in (('teacher', teacher_text, teacher_regions),
                                ('student', student_text, student_regions)):
        if text.shape[-1] != regions.shape[-1]:
            raise ValueError(f'{name} text embeddings have {text.shape[-1]} channels but its '
                             f'region features {regions.shape[-1]}')
    if teacher_text.shape[0] != student_text.shape[0]:
        raise ValueError(f'teacher vocabulary has {teacher_text.shape[0]} classes, student '
                         f'vocabulary {student_text.shape[0]}')
    t_text, s_text = teacher_text.float(), student_text.float()
    with torch.no_grad():
        t = F.normalize(teacher_regions.detach().float(), dim=-1)
        prob, label = (temperature * t @ t_text.T).softmax(-1).max(-1)
        keep = prob > min_confidence                     # region denoising
    s = F.normalize(student_regions.float(), dim=-1)
    stats = dict(regions=int(keep.numel()), kept=int(keep.sum()))
    if not keep.any():
        # DenseVLM computes a KL over empty tensors here (NaN); a zero that keeps every
        # student parameter in the graph (DDP needs their gradients) is returned instead.
        stats.update(thing=0, stuff=0)
        print_log(f'DenseVLM: none of {stats["regions"]} regions has a teacher confidence above '
                  f'{min_confidence}; this batch contributes a zero loss', logger='current',
                  level=logging.WARNING)
        return s.sum() * 0.0, stats
    t, s, label = t[keep], s[keep], label[keep]
    thing = label < num_thing_classes
    stats.update(thing=int(thing.sum()), stuff=int((~thing).sum()))
    k = int(num_thing_classes)
    loss = s.new_zeros(())
    if thing.any():   # thing regions: distributions over the thing classes only
        loss = loss + _kl_batchmean(temperature * s[thing] @ s_text[:k].T,
                                    temperature * t[thing] @ t_text[:k].T)
    if (~thing).any():  # stuff regions (all regions when none is a thing): all classes
        loss = loss + _kl_batchmean(temperature * s[~thing] @ s_text.T,
                                    temperature * t[~thing] @ t_text.T)
    return loss, stats


def densevlm_loss(teacher_regions: torch.Tensor, student_regions: torch.Tensor,
                  teacher_text: torch.Tensor, student_text: torch.Tensor,
                  num_thing_classes: int = 203, temperature: float = 100.0,
                  min_confidence: float = 0.3) -> torch.Tensor:
    """DenseVLM's decoupled region-category distillation loss (a scalar).

    Args:
        teacher_regions: (R, Ct) RoI-pooled features of the frozen teacher (P-VLM), not yet
            normalized (L2-normalized here; no gradient flows into them).
        student_regions: (R, Cs) RoI-pooled features of the student of the same R regions,
            not yet normalized (L2-normalized here).
        teacher_text, student_text: (K, Ct) / (K, Cs) class embeddings of the same K-class
            vocabulary in each model's space, used exactly as given (DenseVLM's ``.npy`` files
            are not unit-norm and are not re-normalized).
        num_thing_classes: classes ``0 .. num_thing_classes - 1`` are things. DenseVLM parses
            204 from its file name and subtracts one, so its released code uses 203 (class 203,
            "house", is then treated as stuff).
        temperature: logit scale (DenseVLM: a fixed 100).
        min_confidence: regions whose teacher top-class probability (softmax over all K) is
            not above this are dropped (DenseVLM: 0.3).

    Regions kept are split by the teacher's top class: thing regions get
    ``KL(P || Q)`` over the thing classes only, stuff regions over all K classes (P: teacher,
    Q: student softmax of ``temperature * cosine``); each term is averaged over its own
    regions and the two are summed (a missing kind contributes nothing). When no region is
    kept the loss is a zero connected to the student features (never NaN).
    """
    return densevlm_loss_with_stats(teacher_regions, student_regions, teacher_text, student_text,
                                    num_thing_classes, temperature, min_confidence)[0]


# -- RegionCLIP mode of DenseVLM's code base (``training/region_clip.py``) ------------------------
def federated_classes(labels: torch.Tensor, num_sample: int, num_classes: int,
                      generator: torch.Generator = None) -> torch.Tensor:
    """Classes scored by the RegionCLIP loss: every class present in ``labels``, then classes
    drawn uniformly without replacement from the absent ones up to ``num_sample``
    (``get_fed_loss_inds``)."""
    appeared = torch.unique(labels)
    if len(appeared) < num_sample:
        prob = torch.ones(num_classes, device=labels.device)
        prob[appeared] = 0
        extra = torch.multinomial(prob, num_sample - len(appeared), replacement=False,
                                  generator=generator)
        appeared = torch.cat([appeared, extra])
    return appeared


def region_clip_loss(box_features: torch.Tensor, labels: torch.Tensor,
                     text_embeddings: torch.Tensor, logit_scale: float,
                     num_sample_classes: int = 100,
                     generator: torch.Generator = None) -> torch.Tensor:
    """Binary cross-entropy of pseudo-labelled boxes against a sampled subset of the nouns.

    Args:
        box_features: (N, C) RoI features of the student (L2-normalized here).
        labels: (N,) long, the pseudo label of each box.
        text_embeddings: (K, C) noun embeddings (L2-normalized here, as RegionCLIP's buffer).
        logit_scale: the model's own temperature (``logit_scale.exp()``, about 100).
        num_sample_classes: classes scored per batch (:func:`federated_classes`).
    Returns ``sum over the sampled classes of BCE-with-logits, averaged over boxes``.
    """
    b = F.normalize(box_features.float(), dim=-1)
    n = F.normalize(text_embeddings.float(), dim=-1)
    logits = b @ n.T * float(logit_scale)
    target = torch.zeros_like(logits)
    target[torch.arange(len(labels), device=labels.device), labels] = 1.0
    classes = federated_classes(labels, num_sample_classes, n.shape[0], generator)
    bce = F.binary_cross_entropy_with_logits(logits[:, classes], target[:, classes],
                                             reduction='none')
    return bce.sum(-1).mean()
