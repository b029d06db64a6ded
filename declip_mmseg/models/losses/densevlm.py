"""DenseVLM's decoupled region-category distillation loss (ICCV'25, ``training/densevlm.py``)."""
import logging

import torch
import torch.nn.functional as F
from mmengine.logging import print_log


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
