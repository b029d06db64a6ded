"""The RegionCLIP mode of DenseVLM's code base (``training/region_clip.py``): pseudo-labelled boxes,
binary cross-entropy against a sampled subset of the noun embeddings."""
import torch
import torch.nn.functional as F


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
