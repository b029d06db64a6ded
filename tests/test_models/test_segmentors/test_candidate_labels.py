"""models/segmentors/candidate_labels.py: bounds at the patch grid give the full-size labels."""
import pytest
import torch
import torch.nn.functional as F

from declip_mmseg.models.segmentors import candidate_labels
from declip_mmseg.models.segmentors.chunked_labels import WindowLogits, labels_in_chunks
from declip_mmseg.models.segmentors.patch_fit import fit_corner, fit_floor, fit_pad
from declip_mmseg.models.segmentors.sliding_window import window_boxes


def slide(size, crop, stride, queries, fit=fit_pad, patch=8, smooth=True, seed=0):
    """WindowLogits of random (smooth, as real logits are) patch-grid logits of every window."""
    g = torch.Generator().manual_seed(seed)
    windows = WindowLogits(size, 'cpu')
    for box in window_boxes(*size, crop, stride):
        y1, y2, x1, x2 = box
        fitted, restore = fit(torch.zeros(1, 3, y2 - y1, x2 - x1), patch)
        gh, gw = fitted.shape[-2] // patch, fitted.shape[-1] // patch
        grid = torch.randn(queries, gh, gw, generator=g)
        if smooth:
            grid = F.avg_pool2d(grid[None], 3, 1, 1, count_include_pad=False)[0]
        windows.add(box, 0.2 + 0.05 * grid, restore)
    return windows


def reference(logits, size, query_to_class, scale, prob_thd, excluded=None):
    """Window average and resize of every query at full size, softmax, best query: the
    labels, the best probability and the gap between the two best logits (near-ties)."""
    z = F.interpolate(logits.dense()[None], size=size, mode='bilinear')[0] * scale
    probs = z.softmax(0)
    if excluded is not None:
        z = z.masked_fill(excluded[query_to_class].view(-1, 1, 1), float('-inf'))
    top2 = z.topk(2, dim=0).values
    best = z.argmax(0)
    prob = probs.gather(0, best[None])[0]
    labels = query_to_class[best]
    labels[prob < prob_thd] = 0
    return labels, prob, (top2[0] - top2[1]) / scale


def check(labels, prob, ref, tie=1e-5):
    ref_labels, ref_prob, gap = ref
    differ = labels[0] != ref_labels
    assert not (differ & (gap > tie)).any(), 'labels differ off near-ties'
    assert differ.float().mean() < 1e-3
    if prob is not None:
        torch.testing.assert_close(prob[0], ref_prob, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('fit', [fit_pad, fit_floor, fit_corner])
def test_restore_matrices_are_the_restore(fit):
    """rows @ grid @ cols^T is the patch fit's own resize and crop, channel by channel."""
    inputs = torch.zeros(1, 3, 37, 29)
    fitted, restore = fit(inputs, 8)
    grid = torch.randn(1, 5, fitted.shape[-2] // 8, fitted.shape[-1] // 8)
    rows, cols = restore.matrices(grid.shape[-2:])
    torch.testing.assert_close(rows @ grid[0] @ cols.T, restore(grid, False)[0], atol=1e-6, rtol=0)


@pytest.mark.parametrize('size, crop, stride, out', [
    ((64, 96), 40, 24, (64, 96)),    # 2 x 4 windows of a padded 40 crop (grid 5 x 5, padded 40)
    ((45, 71), 36, 20, (90, 142)),   # windows, then a resize to the original size
    ((30, 30), 36, 20, (45, 50)),    # one window smaller than the crop
])
@pytest.mark.parametrize('prob_thd', [0.0, 0.3])
def test_labels_equal_the_full_size_reference(size, crop, stride, out, prob_thd):
    query_to_class = torch.tensor([0, 0, 1, 2, 2, 3] + list(range(4, 64)))
    windows = slide(size, crop, stride, len(query_to_class))
    assert windows.separable(out) is not None
    labels, prob = labels_in_chunks(windows, out, query_to_class, 50.0, prob_thd, chunk=7)
    check(labels, prob, reference(windows, out, query_to_class, 50.0, prob_thd))


def test_excluded_classes_and_the_softmax_share():
    query_to_class = torch.arange(40)
    excluded = torch.zeros(40, dtype=torch.bool)
    excluded[1::3] = True
    windows = slide((48, 80), 40, 24, 40, seed=3)
    labels, prob = labels_in_chunks(windows, (48, 80), query_to_class, 40.0, 0.2,
                                    excluded_classes=excluded)
    assert not excluded[labels].any()
    ref_labels, ref_prob, gap = reference(windows, (48, 80), query_to_class, 40.0, 0.2, excluded)
    check(labels, None, (ref_labels, ref_prob, gap))


def candidate_counts(windows, size, query_to_class, prob_thd=0.0):
    """Labels, probabilities and the most candidates per column of every run."""
    counts = []
    real = candidate_labels._candidates_per_column

    def spy(cand):
        counts.append(int(cand.sum(0).max()))
        return real(cand)
    candidate_labels._candidates_per_column = spy
    try:
        labels, prob = labels_in_chunks(windows, size, query_to_class, 50.0, prob_thd)
    finally:
        candidate_labels._candidates_per_column = real
    return labels, prob, counts


def test_many_candidates_take_the_argmax_path():
    """Rough, nearly equal logits leave many candidates per column: same labels."""
    query_to_class = torch.arange(30)
    windows = slide((40, 56), 40, 16, 30, smooth=False, seed=5)
    labels, prob, counts = candidate_counts(windows, (40, 56), query_to_class)
    assert max(counts) > candidate_labels.FEW_CANDIDATES
    check(labels, prob, reference(windows, (40, 56), query_to_class, 50.0, 0.0))


def test_few_candidates_survive_the_bounds():
    """Smooth logits of 200 queries on a strong field that all queries share (as CLIP's
    cosines have): a handful of candidates per column, not all, and the same labels."""
    windows = slide((64, 64), 64, 32, 200, seed=7)
    field = torch.randn(1, *windows.parts[0][1].shape[1:], generator=torch.Generator().manual_seed(8))
    for i, (box, grid, restore) in enumerate(windows.parts):
        windows.parts[i] = (box, grid + 0.5 * field, restore)
    labels, prob, counts = candidate_counts(windows, (64, 64), torch.arange(200), 0.05)
    assert max(counts) < 40
    check(labels, prob, reference(windows, (64, 64), torch.arange(200), 50.0, 0.05))


def test_windows_off_a_grid_take_the_chunked_path():
    windows = slide((48, 48), 40, 8, 5)
    box, grid, restore = windows.parts[0]
    windows.add((2, 42, 3, 43), grid, restore)  # a window off the grid
    assert windows.separable((48, 48)) is None
    labels, prob = labels_in_chunks(windows, (48, 48), torch.arange(5), 50.0, 0.1)
    assert labels.shape == (1, 48, 48) and prob.shape == (1, 48, 48)


def test_non_finite_logits_take_the_chunked_path(monkeypatch):
    """A window of NaN logits (ProxyCLIP where a window's VFM similarities all fall below its
    threshold) has no bounds: the labels are the chunked path's, as before."""
    windows = slide((48, 80), 40, 24, 6, seed=4)
    box, grid, restore = windows.parts[1]
    windows.parts[1] = (box, torch.full_like(grid, float('nan')), restore)
    labels, prob = labels_in_chunks(windows, (48, 80), torch.arange(6), 50.0, 0.1)
    monkeypatch.setattr(WindowLogits, 'separable', lambda self, size: None)
    chunked_labels, chunked_prob = labels_in_chunks(windows, (48, 80), torch.arange(6), 50.0, 0.1)
    assert torch.equal(labels, chunked_labels)
    torch.testing.assert_close(prob, chunked_prob, equal_nan=True)
    assert torch.isnan(prob).any()
