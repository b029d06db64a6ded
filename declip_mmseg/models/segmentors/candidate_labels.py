"""Labels at the original size without a full-size pass per query (many classes).

Bilinear resizing, the crop of a patch fit and the window average of slide inference are
all linear and separable, and every output value is a convex combination of grid values.
Stacking the windows' patch-grid logits of query q as one block matrix ``G_q`` (R*gh, C*gw)
(R x C windows), the logit at pixel (y, x) of the original size is

    z_q(y, x) = sum_k A[y, k] T_q[k, x],      T_q = G_q B^T,

with ``A`` (H, R*gh) and ``B`` (W, C*gw) the row and column resize matrices, the window
counts folded in (rows of non-negative weights summing to 1). Rows y whose weights have the
same support ``S`` share the bounds ``min_{k in S} T_q[k, x] <= z_q(y, x) <= max_{k in S}
T_q[k, x]``: a query whose upper bound is below another query's lower bound is never the
best there. The per-cell mean over queries is subtracted first (neither the argmax nor the
softmax sees a term shared by all queries, and CLIP's cosines share a strong one): only the
remaining candidates (tens of 847) are evaluated at full size; the
softmax's denominator (only needed for ``prob_thd > 0``) is one pass of matrix products and
exponentials over all queries.

The softmax is shifted by ``m = A M B^T`` with ``M`` the per-cell max over queries (an upper
bound of every query's logit, as in :mod:`.chunked_labels`), folded into the grids: each
chunk of queries is one product ``s A (G_q - M) B^T``, then ``exp`` and a sum.

Values differ from the resize-then-average reference (:mod:`.chunked_labels`) by float
rounding only (products summed in another order, ~1e-7 relative), so labels are equal off
such near-ties. Used for every labelling without a ``refine`` step whose windows are a full
grid of equal windows (or one grid) with a :class:`.patch_fit.Restore`; anything else takes
the per-chunk path of :func:`.chunked_labels.labels_in_chunks`.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch

from .patch_fit import resize_matrix

# the bound test keeps a query unless it is below by more than this many ulps of the largest
# |T|: the weights of a row sum to 1 only up to rounding, and z is summed in another order
BOUND_SLACK_ULPS = 8
# up to this many candidates in a column: a loop of comparisons, else one argmax
FEW_CANDIDATES = 8
# the probability pass: queries per chunk and bytes per tile of exponentials (cache-sized)
PROB_CHUNK = 32
PROB_TILE_BYTES = 4 * 2 ** 20


class SeparableLogits(NamedTuple):
    """``z_q = rows @ grids[q] @ cols^T``: logits (Q, H, W) at the output size.

    grids: (Q, K, L) window grids as one block matrix per query; rows: (H, K); cols: (W, L).
    """
    grids: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor


def window_matrices(size: Sequence[int], boxes: Sequence[tuple], grids: Sequence[torch.Tensor],
                    restore) -> Optional[SeparableLogits]:
    """The sliding windows of an image (``boxes`` (y1, y2, x1, x2), patch-grid logits (Q, gh, gw)
    each, brought back to the window by ``restore``, averaged where windows overlap) as
    :class:`SeparableLogits` at the image ``size``; None unless the windows are a full R x C
    grid of equal windows with equal grids and ``restore`` has ``matrices``."""
    ys = sorted({(b[0], b[1]) for b in boxes})
    xs = sorted({(b[2], b[3]) for b in boxes})
    if (not hasattr(restore, 'matrices') or len(boxes) != len(ys) * len(xs)
            or len({tuple(g.shape) for g in grids}) != 1
            or len({(y2 - y1, x2 - x1) for y1, y2, x1, x2 in boxes}) != 1):
        return None
    Q, gh, gw = grids[0].shape
    window_rows, window_cols = restore.matrices((gh, gw))

    def placed(bands, block, length, cells):
        out, count = torch.zeros(length, len(bands) * cells), torch.zeros(length, 1)
        for i, (a, b) in enumerate(bands):
            out[a:b, i * cells:(i + 1) * cells] = block
            count[a:b] += 1
        return out / count

    stacked = grids[0].new_zeros((Q, len(ys) * gh, len(xs) * gw), dtype=torch.float32)
    for (y1, y2, x1, x2), grid in zip(boxes, grids):
        r, c = ys.index((y1, y2)), xs.index((x1, x2))
        stacked[:, r * gh:(r + 1) * gh, c * gw:(c + 1) * gw] = grid.float()
    return SeparableLogits(stacked, placed(ys, window_rows, int(size[0]), gh),
                           placed(xs, window_cols, int(size[1]), gw))


def resized(sep: SeparableLogits, size: Sequence[int]) -> SeparableLogits:
    """``sep`` followed by a bilinear resize to ``size`` (identity at equal size)."""
    rows, cols = sep.rows, sep.cols
    if rows.shape[0] != int(size[0]):
        rows = resize_matrix(rows.shape[0], int(size[0])) @ rows
    if cols.shape[0] != int(size[1]):
        cols = resize_matrix(cols.shape[0], int(size[1])) @ cols
    return SeparableLogits(sep.grids, rows, cols)


def row_runs(rows: torch.Tensor) -> List[Tuple[int, int, torch.Tensor]]:
    """(y0, y1, support): runs of consecutive rows whose weights have the same support."""
    nonzero = rows != 0
    change = (nonzero[1:] != nonzero[:-1]).any(1).nonzero()[:, 0] + 1
    edges = [0] + change.tolist() + [rows.shape[0]]
    return [(a, b, nonzero[a].nonzero()[:, 0]) for a, b in zip(edges[:-1], edges[1:])]


def _candidates_per_column(cand: torch.Tensor) -> torch.Tensor:
    """(Q, w) bool -> (k, w) query indices, each column's candidates in ascending order,
    padded with its first candidate (k: the most candidates of a column)."""
    cols, queries = cand.T.contiguous().nonzero(as_tuple=True)     # by column, then query
    counts = cand.sum(0)
    first = torch.cumsum(counts, 0) - counts
    out = queries[first].repeat(int(counts.max()), 1)              # every column has >= 1
    out[torch.arange(len(cols)) - first[cols], cols] = queries
    return out


def _first_max(z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Max over dim 1 of (n, k, w) and its first position, (n, w) each: a loop over a few
    candidates, else an argmax over the last dimension (torch's argmax over a middle
    dimension is slow on the CPU)."""
    if z.shape[1] > FEW_CANDIDATES:
        pos = z.transpose(1, 2).contiguous().argmax(-1)
        return z.gather(1, pos[:, None])[:, 0], pos
    best, pos = z[:, 0].clone(), z.new_zeros(z[:, 0].shape, dtype=torch.long)
    for j in range(1, z.shape[1]):
        better = z[:, j] > best
        best = torch.where(better, z[:, j], best)
        pos.masked_fill_(better, j)
    return best, pos


@torch.no_grad()
def separable_labels(sep: SeparableLogits, query_to_class: torch.Tensor, logit_scale: float,
                     prob_thd: float, excluded_queries: Optional[torch.Tensor] = None,
                     budget_bytes: int = 64 * 2 ** 20, with_prob: bool = True):
    """Best query's class and its probability per pixel, as :func:`labels_in_chunks`.

    Returns labels (1, H, W) long and the best probability (1, H, W) (None unless
    ``with_prob``; always computed when ``prob_thd > 0``).
    """
    grids, rows, cols = sep
    # the labels and the softmax ignore what all queries share per pixel: without it (the
    # per-cell mean) the bounds of a run are narrow and few queries remain candidates
    grids = grids - grids.mean(0, keepdim=True)
    sep = SeparableLogits(grids, rows, cols)
    Q, K = grids.shape[:2]
    H, W = rows.shape[0], cols.shape[0]
    device = grids.device
    rows, cols = rows.to(device), cols.to(device)
    runs = row_runs(rows)
    ineligible = None if excluded_queries is None else excluded_queries.to(device)[:, None]
    best_query = torch.empty((H, W), dtype=torch.long, device=device)
    best = torch.empty((H, W), device=device)
    tile = max(1, min(W, budget_bytes // max(1, 8 * Q * K)))     # T and one run's slice
    # |T| <= max |grids|: the rows of cols are convex weights
    slack = BOUND_SLACK_ULPS * torch.finfo(grids.dtype).eps * float(grids.abs().max())
    for x0 in range(0, W, tile):
        x1 = min(W, x0 + tile)
        T = torch.matmul(grids.transpose(0, 1), cols[x0:x1].T)     # (K, Q, w)
        for y0, y1, support in runs:
            cells = [T[k] for k in support.tolist()]               # (Q, w) each
            hi, lo = cells[0], cells[0]
            for cell in cells[1:]:
                hi, lo = torch.maximum(hi, cell), torch.minimum(lo, cell)
            if ineligible is not None:
                hi = hi.masked_fill(ineligible, float('-inf'))
                lo = lo.masked_fill(ineligible, float('-inf'))
            idx = _candidates_per_column(hi >= lo.amax(0) - slack)  # (k, w)
            picked = torch.stack([cell.gather(0, idx) for cell in cells])   # (s, k, w)
            z = torch.einsum('ys,skw->ykw', rows[y0:y1].index_select(1, support), picked)
            best[y0:y1, x0:x1], pos = _first_max(z)                # first best: lowest query
            best_query[y0:y1, x0:x1] = idx.gather(0, pos)
    prob = None
    if with_prob or prob_thd > 0:
        prob = _best_probability(sep, best, logit_scale)
    labels = query_to_class.to(device)[best_query]
    if prob_thd > 0:
        labels[prob < prob_thd] = 0
    return labels[None], None if prob is None else prob[None]


def _best_probability(sep: SeparableLogits, best: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """Softmax probability of the best query, ``exp(s best - s m) / sum_q exp(s z_q - s m)``
    (H, W), with the shift ``m = rows @ M @ cols^T`` folded into the grids; computed in tiles
    of :data:`PROB_TILE_BYTES` (memory-bound: 2-3x faster than 64 MB tiles)."""
    grids, rows, cols = sep
    Q, H, W = grids.shape[0], rows.shape[0], cols.shape[0]
    rows, cols = rows.to(grids.device) * logit_scale, cols.to(grids.device)
    K = rows.shape[1]
    cell_max = grids.amax(0)                                       # (K, L)
    shift = rows @ cell_max @ cols.T                               # s m, (H, W)
    chunk = min(Q, PROB_CHUNK)
    band = max(1, PROB_TILE_BYTES // (4 * chunk * W))
    total = torch.zeros_like(best)
    for start in range(0, Q, chunk):
        shifted = torch.matmul(grids[start:start + chunk] - cell_max, cols.T)   # (c, K, W)
        c = shifted.shape[0]
        shifted = shifted.transpose(0, 1).reshape(K, c * W)
        for y0 in range(0, H, band):
            z = rows[y0:y0 + band] @ shifted                       # (b, c * W)
            total[y0:y0 + band] += z.exp_().view(-1, c, W).sum(1)
    return torch.exp(best * logit_scale - shift).div_(total)
