"""Labels at the original image size in bounded memory.

The reference post-processing upsamples all Q query logits to the original size, then
applies ``softmax(logit_scale * logits)``, the synonym max and the argmax. For a 6000x4000
photo and ADE20K's 150 classes that is 14.4 GB of float32 per temporary. The same labels
and best-class probabilities are computed here a few queries at a time:

* the upsampling is per query, so a chunk of queries is upsampled on its own;
* the softmax only needs a per-pixel running max and sum of exponentials (log-sum-exp);
* the label is the class of the best query over all synonyms (argmax of ``max_syn P`` =
  argmax of ``max_syn logit``), and its probability is ``exp(best - logsumexp)``.

Memory: ``chunk x H x W`` floats for the chunk plus five ``H x W`` maps.
"""
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

Refine = Callable[[torch.Tensor, slice], torch.Tensor]


def upsample(logits: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """(Q, h, w) -> (Q, H, W) bilinear (``align_corners=False``); identity at equal size."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits[None], size=tuple(size), mode='bilinear')[0]


def chunk_size_for(num_queries: int, size: Sequence[int], budget_bytes: int,
                   bytes_per_query_pixel: int = 4) -> int:
    """Queries per chunk so that one chunk's temporaries stay within ``budget_bytes``."""
    per_query = bytes_per_query_pixel * int(size[0]) * int(size[1])
    return max(1, min(num_queries, budget_bytes // max(per_query, 1)))


@torch.no_grad()
def labels_in_chunks(logits: torch.Tensor, size: Sequence[int], query_to_class: torch.Tensor,
                     logit_scale: float, prob_thd: float = 0.0, chunk: int = 16,
                     refine: Optional[Refine] = None,
                     excluded_classes: Optional[torch.Tensor] = None):
    """Best class and its probability per pixel at ``size``.

    Args:
        logits: (Q, h, w) cosine logits of every query at network resolution.
        size: (H, W) output size (the original image size).
        query_to_class: (Q,) class index of each query (synonyms share one).
        logit_scale, prob_thd: as in the segmentor; pixels whose best class probability is
            below ``prob_thd`` get class 0.
        chunk: queries upsampled at a time.
        refine: optional ``f(upsampled_chunk (c, H, W), queries slice) -> (c, H, W)`` applied
            to the raw logits at full size before the softmax (e.g. PAMR).
        excluded_classes: (C,) bool; these classes keep their share of the softmax's
            denominator but can never be the label (SCLIP's ``area_thd`` sets their
            probability to 0 after the softmax).

    Returns:
        labels (1, H, W) long, best probability (1, H, W) float32.
    """
    Q = logits.shape[0]
    H, W = int(size[0]), int(size[1])
    device = logits.device
    run_max = torch.full((H, W), float('-inf'), device=device)
    run_sum = torch.zeros((H, W), device=device)
    best = torch.full((H, W), float('-inf'), device=device)
    best_query = torch.zeros((H, W), dtype=torch.long, device=device)
    query_to_class = query_to_class.to(device)
    if excluded_classes is not None:
        excluded_queries = excluded_classes.to(device)[query_to_class]
    for start in range(0, Q, max(1, int(chunk))):
        queries = slice(start, min(start + int(chunk), Q))
        z = upsample(logits[queries].float(), (H, W))
        if refine is not None:
            z = refine(z, queries)
        z = z * logit_scale                                        # (c, H, W)
        chunk_max = z.max(dim=0).values
        new_max = torch.maximum(run_max, chunk_max)
        run_sum = run_sum * torch.exp(run_max - new_max) + torch.exp(z - new_max).sum(dim=0)
        run_max = new_max
        if excluded_classes is not None:
            z = z.masked_fill(excluded_queries[queries].view(-1, 1, 1), float('-inf'))
        value, index = z.max(dim=0)
        better = value > best
        best = torch.where(better, value, best)
        best_query = torch.where(better, index + start, best_query)
        del z
    prob = torch.exp(best - (run_max + torch.log(run_sum)))
    labels = query_to_class[best_query]
    labels[prob < prob_thd] = 0
    return labels[None], prob[None]
