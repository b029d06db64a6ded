"""evaluation/metrics/region_classification.py: mean class accuracy, DenseVLM keys, edge cases."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from declip_mmseg.evaluation import RegionClassificationMetric

DV_KEYS = [f'{m}.{kind}.macc{k}' for m in ('rois', 'maskpool') for kind in ('thing', 'stuff')
           for k in (1, 5)]


def densevlm_macc(correct, labels):
    """DenseVLM's macc_with_is_thing._macc: labels min..max, float16 per class."""
    accs = []
    for lb in range(int(labels.min()), int(labels.max()) + 1):
        c = correct[labels == lb]
        if len(c):
            accs.append(c.float().mean().half().item())
    return sum(accs) / len(accs)


def test_metric_densevlm_keys_and_rounding():
    metric = RegionClassificationMetric(key_format='{method}.{kind}.macc{k}',
                                        half_precision_per_class=True)
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 7, (300,), generator=g)
    is_thing = labels < 4
    logits = torch.randn(300, 7, generator=g) + 1.5 * F.one_hot(labels, 7)
    metric.process(None, [dict(labels=labels, is_thing=is_thing, rois_logits=logits,
                               maskpool_logits=-logits)])
    out = metric.compute_metrics(metric.results)
    assert sorted(out) == sorted(DV_KEYS)
    top1 = logits.argmax(1) == labels
    top5 = (logits.topk(5, dim=1).indices == labels[:, None]).any(1)
    assert out['rois.thing.macc1'] == round(densevlm_macc(top1[is_thing], labels[is_thing]) * 100, 2)
    assert out['rois.stuff.macc5'] == round(densevlm_macc(top5[~is_thing], labels[~is_thing]) * 100, 2)


# -- metric ----------------------------------------------------------------------
def one_hot_ranking(order, C=7):
    """Logits whose ranking is ``order`` first (then the rest by index)."""
    logits = torch.zeros(C)
    for rank, c in enumerate(order):
        logits[c] = 10.0 - rank
    return logits


def test_metric_mean_class_accuracy():
    # things 0-2, stuff 3-6; label: (ranking of rois, ranking of maskpool)
    image1 = [(0, [0], [1, 0]),             # thing 0: rois top-1; maskpool top-5 only
              (0, [1, 2, 3, 4, 0], [0]),    # thing 0: rois top-5 only (rank 5); maskpool top-1
              (3, [3], [3])]                # stuff 3 right
    image2 = [(1, [0, 2, 3, 4, 5], [1]),    # thing 1: rois wrong even top-5 (rank 7)
              (3, [3], [4, 3]),             # stuff 3: maskpool wrong top-1, right top-5
              (3, [3], [3]),
              (5, [6, 5], [6, 0, 1, 2, 3])]  # stuff 5: rois top-5; maskpool nowhere in top-5
    metric = RegionClassificationMetric()
    metric.dataset_meta = dict(classes=tuple('abcdefg'))
    for image in (image1, image2):
        labels = torch.tensor([r[0] for r in image])
        rois = torch.stack([one_hot_ranking(r[1]) for r in image])
        maskpool = torch.stack([one_hot_ranking(r[2]) for r in image])
        metric.process({}, [dict(labels=labels, is_thing=labels < 3, rois_logits=rois,
                                 maskpool_logits=maskpool)])
    res = metric.evaluate(2)
    # rois things: class 0 top1 1/2, top5 2/2; class 1 0/1, 0/1 -> 25, 50
    # (the mean over regions would be 33.3 top-1)
    assert res['rois_thing_top1'] == 25.0 and res['rois_thing_top5'] == 50.0
    # rois stuff: class 3 3/3; class 5 top1 0, top5 1 -> 50, 100
    assert res['rois_stuff_top1'] == 50.0 and res['rois_stuff_top5'] == 100.0
    # maskpool things: class 0 top1 1/2, top5 2/2; class 1 1/1 -> 75, 100
    assert res['maskpool_thing_top1'] == 75.0 and res['maskpool_thing_top5'] == 100.0
    # maskpool stuff: class 3 top1 2/3, top5 3/3; class 5 0, 0 -> 33.33, 50
    assert res['maskpool_stuff_top1'] == 33.33 and res['maskpool_stuff_top5'] == 50.0
    assert len(res) == 8


def test_metric_edge_cases():
    metric = RegionClassificationMetric(topk=(1, 5))
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))  # fewer classes than k = 5
    logits = torch.tensor([[3.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
    metric.process({}, [dict(labels=torch.tensor([1, 1]), is_thing=torch.tensor([True, True]),
                             rois_logits=logits, maskpool_logits=logits)])
    res = metric.evaluate(1)
    assert res['rois_thing_top1'] == 0.0 and res['rois_thing_top5'] == 100.0
    assert np.isnan(res['rois_stuff_top1'])  # no stuff region
    metric.dataset_meta = dict(classes=('a', 'b'))
    with pytest.raises(ValueError, match='class_names'):
        metric.process({}, [dict(labels=torch.tensor([1]), is_thing=torch.tensor([True]),
                                 rois_logits=logits[:1], maskpool_logits=logits[:1])])
