"""models/segmentors/chunked_labels.py: labels in chunks equal the full-size reference."""
import pytest
import torch
import torch.nn.functional as F

from declip_mmseg.models.segmentors.chunked_labels import chunk_size_for, labels_in_chunks
from declip_mmseg.testing.segmentors import build_tiny_segmentor as build
from declip_mmseg.testing.segmentors import seg_data_sample as sample

QUERY_TO_CLASS = torch.tensor([0, 0, 1, 2, 2, 2, 3])  # cat, kitty, dog, grass, lawn, turf, sky


def reference(logits, size, scale, prob_thd, excluded=None):
    """Upsample everything, softmax, synonym max, (zero excluded classes), argmax, threshold."""
    probs = (F.interpolate(logits[None], size=size, mode='bilinear')[0] * scale).softmax(0)
    pooled = torch.stack([probs[QUERY_TO_CLASS == c].max(0).values for c in range(4)])
    if excluded is not None:
        pooled[excluded] = 0
    best, labels = pooled.max(0)
    labels[best < prob_thd] = 0
    return labels[None], best[None]


@pytest.mark.parametrize('chunk', [1, 3, 7, 100])
@pytest.mark.parametrize('prob_thd', [0.0, 0.4])
def test_labels_in_chunks_equal_full_size_reference(chunk, prob_thd):
    torch.manual_seed(0)
    logits = torch.randn(7, 9, 13) * 0.2
    labels, prob = labels_in_chunks(logits, (31, 40), QUERY_TO_CLASS, 50.0, prob_thd, chunk=chunk)
    ref_labels, ref_prob = reference(logits, (31, 40), 50.0, prob_thd)
    torch.testing.assert_close(prob, ref_prob, atol=1e-6, rtol=1e-5)
    assert torch.equal(labels, ref_labels)


def test_excluded_classes_keep_their_softmax_share():
    torch.manual_seed(1)
    logits = torch.randn(7, 6, 8) * 0.2
    excluded = torch.tensor([False, True, False, True])
    labels, prob = labels_in_chunks(logits, (12, 16), QUERY_TO_CLASS, 40.0, 0.2, chunk=2,
                                    excluded_classes=excluded)
    ref_labels, ref_prob = reference(logits, (12, 16), 40.0, 0.2, excluded)
    assert torch.equal(labels, ref_labels)
    torch.testing.assert_close(prob, ref_prob, atol=1e-6, rtol=1e-5)
    assert not ((labels == 1) | (labels == 3)).any()


def test_chunk_size_follows_the_budget():
    assert chunk_size_for(150, (4000, 6000), 2 ** 30, 12) == 3  # 288 MB per query
    assert chunk_size_for(150, (40, 60), 512 * 2 ** 20, 12) == 150
    assert chunk_size_for(150, (40000, 60000), 2 ** 20, 12) == 1


def test_segmentor_labels_without_full_size_probabilities(tiny_clip):
    """Default predict (chunked, no seg_logits) gives the labels of the full-size path."""
    full = build(tiny_clip, prob_thd=0.3)
    small = build(tiny_clip, prob_thd=0.3, keep_seg_logits=False, postprocess_memory_mb=0)
    img = torch.randn(1, 3, 45, 71)
    with torch.no_grad():
        a = full.predict(img, [sample((45, 71), (90, 142))])[0]
        b = small.predict(img, [sample((45, 71), (90, 142))])[0]
    assert 'seg_logits' not in b and 'seg_logits' in a
    assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)


def test_image_too_large_for_memory_is_refused_with_the_figure(tiny_clip, monkeypatch):
    import declip_mmseg.models.segmentors.memory as memory
    monkeypatch.setattr(memory, 'available_bytes', lambda device: 100_000)
    model = build(tiny_clip, keep_seg_logits=False)
    img = torch.randn(1, 3, 45, 71)
    with pytest.raises(MemoryError, match=r'labelling a 900x1420 image needs about .* GiB of cpu '
                                          r'memory, but only 0\.0 GiB is free: resize the image'):
        model.predict(img, [sample((45, 71), (900, 1420))])
    with pytest.raises(MemoryError, match='keep_seg_logits=False'):
        build(tiny_clip).predict(img, [sample((45, 71), (900, 1420))])
