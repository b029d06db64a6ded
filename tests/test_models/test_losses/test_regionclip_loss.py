"""region_clip_loss against a direct re-computation."""
import torch
import torch.nn.functional as F

from declip_mmseg.models.losses import federated_classes, region_clip_loss


def test_region_clip_loss():
    g = torch.Generator().manual_seed(0)
    feats, nouns = torch.randn(6, 8, generator=g), torch.randn(300, 8, generator=g)
    labels = torch.tensor([3, 3, 17, 250, 0, 17])
    classes = federated_classes(labels, 100, 300, torch.Generator().manual_seed(1))
    assert len(classes) == 100 and len(set(classes.tolist())) == 100
    assert set(labels.tolist()) <= set(classes.tolist())
    loss = region_clip_loss(feats, labels, nouns, 100.0, 100, torch.Generator().manual_seed(1))
    z = F.normalize(feats, dim=-1) @ F.normalize(nouns, dim=-1).T * 100
    y = torch.zeros(6, 300)
    y[range(6), labels] = 1
    bce = -(y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z))
    assert abs(float(loss) - float(bce[:, classes].sum(1).mean())) < 1e-3
