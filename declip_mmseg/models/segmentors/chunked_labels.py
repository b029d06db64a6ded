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

Without a ``refine`` step the softmax's shift is not a running max but one upper bound of
every query's logit, known before the first chunk (:meth:`WindowLogits.max_map`: the
per-pixel max over queries at the patch grid, resized like the logits; a bilinear resize and
the window average are convex combinations, so they keep it an upper bound): one pass over
each chunk for the label, one for the exponentials. Sliding windows stay at their patch grid
(:class:`WindowLogits`) and a chunk of queries is resized and averaged only when it is
labelled: no (Q, H, W) tensor of all queries is ever made (847 queries of a 448 x 640 image
would be 1 GB, plus the windows' 1.4 GB), only chunk-sized ones, reused.
"""
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from .candidate_labels import SeparableLogits, resized, separable_labels, window_matrices

Refine = Callable[[torch.Tensor, slice], torch.Tensor]
# queries per chunk: few enough to keep the temporaries small and reused (measured on 2 cores:
# 8 MB chunks were 2x slower than 64 MB ones, the per-op overhead dominating)
CACHE_BYTES = 64 * 2 ** 20


class WindowLogits:
    """Query logits of one image's sliding windows, each kept at its patch grid.

    ``add(box, grid, restore)``: ``grid`` (Q, gh, gw) patch-grid logits of the window ``box``
    (y1, y2, x1, x2), ``restore`` the patch fit's ``(1, c, gh, gw) -> (1, c, h, w)`` back to the
    window. :meth:`queries` gives the window average of a slice of queries at the image
    size (H, W), the arithmetic of ``ZeroShotSegmentor.slide_logits``.
    """

    def __init__(self, size: Sequence[int], device):
        self.size = (int(size[0]), int(size[1]))
        self.parts: List[Tuple[tuple, torch.Tensor, Callable]] = []
        self.count = torch.zeros(self.size, device=device)

    def add(self, box, grid: torch.Tensor, restore: Callable) -> None:
        y1, y2, x1, x2 = box
        self.parts.append((box, grid, restore))
        self.count[y1:y2, x1:x2] += 1

    @property
    def num_queries(self) -> int:
        return self.parts[0][1].shape[0]

    @property
    def device(self):
        return self.count.device

    def _average(self, grids) -> torch.Tensor:
        out = None
        for (y1, y2, x1, x2), grid, restore in zip((p[0] for p in self.parts), grids,
                                                   (p[2] for p in self.parts)):
            window = restore(grid[None], False)[0]
            if out is None:
                out = window.new_zeros((window.shape[0],) + self.size)
            out[:, y1:y2, x1:x2] += window
        return out.div_(self.count)

    def queries(self, queries: slice) -> torch.Tensor:
        """(c, H, W) window-averaged logits of ``queries`` (a new tensor)."""
        return self._average([grid[queries].float() for _, grid, _ in self.parts])

    def max_map(self) -> torch.Tensor:
        """(H, W) upper bound of every query's logit: the per-cell max, resized and averaged."""
        return self._average([grid.float().amax(dim=0, keepdim=True) for _, grid, _ in self.parts])[0]

    def dense(self) -> torch.Tensor:
        """(Q, H, W) all queries (``keep_seg_logits``)."""
        return self.queries(slice(None))

    def separable(self, size: Sequence[int]) -> Optional[SeparableLogits]:
        """The windows' average resized to ``size`` as matrices (:mod:`.candidate_labels`),
        or None where the windows are not a full grid of equal windows."""
        if not self.parts:
            return None
        sep = window_matrices(self.size, [p[0] for p in self.parts], [p[1] for p in self.parts],
                              self.parts[0][2])
        return None if sep is None else resized(sep, size)


class TensorLogits:
    """A (Q, h, w) logit tensor seen through :class:`WindowLogits`'s interface."""

    def __init__(self, logits: torch.Tensor):
        self.logits = logits
        self.num_queries = logits.shape[0]

    @property
    def device(self):
        return self.logits.device

    def queries(self, queries: slice) -> torch.Tensor:
        return self.logits[queries].float().clone()

    def max_map(self) -> torch.Tensor:
        return self.logits.float().amax(dim=0)

    def dense(self) -> torch.Tensor:
        return self.logits

    def separable(self, size: Sequence[int]) -> SeparableLogits:
        """The grid resized to ``size`` as matrices (:mod:`.candidate_labels`)."""
        _, h, w = self.logits.shape
        return resized(SeparableLogits(self.logits.float(), torch.eye(h), torch.eye(w)), size)


Logits = Union[torch.Tensor, WindowLogits, TensorLogits]


def as_logits(logits: Logits):
    return TensorLogits(logits) if isinstance(logits, torch.Tensor) else logits


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
def labels_in_chunks(logits: Logits, size: Sequence[int], query_to_class: torch.Tensor,
                     logit_scale: float, prob_thd: float = 0.0, chunk: int = 16,
                     refine: Optional[Refine] = None,
                     excluded_classes: Optional[torch.Tensor] = None, with_prob: bool = True):
    """Best class and its probability per pixel at ``size``.

    Args:
        logits: (Q, h, w) cosine logits of every query at network resolution, or a
            :class:`WindowLogits` of them.
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
        with_prob: return the probability even where ``prob_thd`` does not need it.

    Without ``refine`` the labels come from :func:`.candidate_labels.separable_labels`
    (bounds at the patch grid, the few candidate queries evaluated at full size) wherever the
    geometry allows and the logits are finite; the chunks below are the general path.

    Returns:
        labels (1, H, W) long, best probability (1, H, W) float32 (or None when
        ``with_prob`` is False and the candidate path ran).
    """
    logits = as_logits(logits)
    Q = logits.num_queries
    H, W = int(size[0]), int(size[1])
    device = logits.device
    if excluded_classes is not None:
        excluded_queries = excluded_classes.to(device)[query_to_class.to(device)]
    if refine is None and (excluded_classes is None or not bool(excluded_queries.all())):
        sep = logits.separable((H, W))
        # non-finite logits (ProxyCLIP: a window whose VFM similarities all fall below its
        # threshold gives NaN rows) have no bounds; the chunks below handle them as before
        if sep is not None and bool(torch.isfinite(sep.grids).all()):
            return separable_labels(sep, query_to_class, logit_scale, prob_thd,
                                    None if excluded_classes is None else excluded_queries,
                                    budget_bytes=8 * max(1, int(chunk)) * H * W,
                                    with_prob=with_prob)
    run_sum = torch.zeros((H, W), device=device)
    best = torch.full((H, W), float('-inf'), device=device)
    best_query = torch.zeros((H, W), dtype=torch.long, device=device)
    query_to_class = query_to_class.to(device)
    # the softmax's shift: an upper bound known in advance, else a running max (refine)
    run_max = (None if refine is not None else
               upsample(logits.max_map()[None], (H, W))[0].mul_(logit_scale))
    for start in range(0, Q, max(1, int(chunk))):
        queries = slice(start, min(start + int(chunk), Q))
        z = upsample(logits.queries(queries), (H, W))
        if refine is not None:
            z = refine(z, queries)
        z.mul_(logit_scale)                                        # (c, H, W), a fresh tensor
        if refine is not None:
            chunk_max = z.max(dim=0).values
            new_max = chunk_max if start == 0 else torch.maximum(run_max, chunk_max)
            if start:
                run_sum.mul_(torch.exp(run_max - new_max))
            run_max = new_max
        masked = (z.masked_fill(excluded_queries[queries].view(-1, 1, 1), float('-inf'))
                  if excluded_classes is not None else z)
        value, index = masked.max(dim=0)
        del masked
        run_sum += z.sub_(run_max).exp_().sum(dim=0)
        better = value > best
        best = torch.where(better, value, best)
        best_query = torch.where(better, index + start, best_query)
        del z
    prob = torch.exp(best - (run_max + torch.log(run_sum)))
    labels = query_to_class[best_query]
    labels[prob < prob_thd] = 0
    return labels[None], prob[None]
