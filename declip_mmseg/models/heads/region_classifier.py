"""Zero-shot classification of annotated regions from dense CLIP features (DeCLIP's validation,
DenseVLM's Table 1): :func:`classify_regions` pools a dense *content* map inside each region's
box (1x1 RoIAlign) and mask (masked mean), L2-normalizes the pooled features and scores them
against the class text embeddings.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Union

import torch
import torch.nn.functional as F

from ..utils.region_pooling import mask_pool, roi_pool
from .text_classifier import pool_synonyms


def unbatch_samples(data_samples: Union[Sequence[dict], Mapping[str, Sequence]]) -> List[dict]:
    """One dict per image from either a list of dicts or the dict of lists that
    ``pseudo_collate`` makes of per-image dicts."""
    if not isinstance(data_samples, Mapping):
        return list(data_samples)
    lengths = {key: len(values) for key, values in data_samples.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f'collated data samples have keys of different lengths: {lengths}')
    n = next(iter(lengths.values()), 0)
    return [{key: values[i] for key, values in data_samples.items()} for i in range(n)]


def classify_regions(content: torch.Tensor, data_samples: Union[Sequence[dict], Mapping],
                     text_embeddings: torch.Tensor,
                     query_to_class: Optional[torch.Tensor] = None
                     ) -> List[Dict[str, torch.Tensor]]:
    """Cosine logits of every annotated region, by RoI pooling and by mask pooling.

    Args:
        content: (B, E, h, w) dense features (DeCLIPViT's content map, not normalized).
        data_samples: B dicts with ``boxes`` (N_i, 4) xyxy in [0, 1] of the input,
            ``masks`` (N_i, h, w) bool at the feature-grid resolution and
            optionally ``labels`` / ``is_thing`` (N_i,), passed through; or
            ``pseudo_collate``'s dict of B-long lists of the same.
        text_embeddings: (Q, E) query embeddings (L2-normalized here, as DenseVLM's
            evaluation re-normalizes its class embeddings).
        query_to_class: (Q,) class of each query; logits of synonyms are
            max-pooled into their class.  None: one query per class.

    Returns:
        B dicts with ``rois_logits`` and ``maskpool_logits`` (N_i, C) float32,
        plus ``labels`` / ``is_thing`` when given.
    """
    B, _, h, w = content.shape
    data_samples = unbatch_samples(data_samples)
    if len(data_samples) != B:
        raise ValueError(f'{len(data_samples)} data samples for a batch of {B} feature maps')
    content = content.float()
    boxes, masks = [], []
    for i, sample in enumerate(data_samples):
        m = sample['masks']
        if m.dim() != 3 or tuple(m.shape[-2:]) != (h, w):
            raise ValueError(
                f'region masks of image {i} have shape {tuple(m.shape)} but the feature map is '
                f'{h}x{w}: masks must be at the feature-grid resolution; set the dataset\'s '
                'image_size / patch_size to the network input size and the backbone\'s patch size')
        if sample['boxes'].shape != (m.shape[0], 4):
            raise ValueError(f'image {i}: boxes of shape {tuple(sample["boxes"].shape)} for '
                             f'{m.shape[0]} masks; expected ({m.shape[0]}, 4)')
        boxes.append(sample['boxes'].to(content.device, torch.float32))
        masks.append(m.to(content.device))
    text = F.normalize(text_embeddings.to(content.device, torch.float32), dim=-1)
    results = {}
    for name, feats in (('rois_logits', roi_pool(content, boxes)),
                        ('maskpool_logits', mask_pool(content, masks))):
        logits = pool_synonyms(F.normalize(feats, dim=-1) @ text.T, query_to_class, dim=1)
        results[name] = logits.split([len(b) for b in boxes])
    outputs = []
    for i, sample in enumerate(data_samples):
        out = {name: results[name][i] for name in results}
        for key in ('labels', 'is_thing'):
            if key in sample:
                out[key] = sample[key]
        outputs.append(out)
    return outputs
