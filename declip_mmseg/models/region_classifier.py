"""Zero-shot classification of annotated regions from dense CLIP features (DeCLIP's validation).

:func:`classify_regions` pools a dense *content* map inside each region's box
(1x1 RoIAlign) and mask (masked mean), L2-normalizes the pooled features and
scores them against the class text embeddings; :class:`DenseRegionClassifier`
wraps it with a backbone and a text classifier for ``tools/test.py``.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmseg.registry import MODELS

from .region_pooling import mask_pool, roi_pool


def pool_synonym_logits(logits: torch.Tensor,
                        query_to_class: Optional[torch.Tensor]) -> torch.Tensor:
    """(N, Q) query logits -> (N, C) class logits, max over each class's synonyms."""
    if query_to_class is None:
        return logits
    num_classes = int(query_to_class.max()) + 1 if query_to_class.numel() else 0
    if num_classes == logits.shape[1]:
        return logits
    index = query_to_class.to(logits.device).view(1, -1).expand_as(logits)
    pooled = logits.new_zeros((logits.shape[0], num_classes))
    return pooled.scatter_reduce_(1, index, logits, 'amax', include_self=False)


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
        logits = pool_synonym_logits(F.normalize(feats, dim=-1) @ text.T, query_to_class)
        results[name] = logits.split([len(b) for b in boxes])
    outputs = []
    for i, sample in enumerate(data_samples):
        out = {name: results[name][i] for name in results}
        for key in ('labels', 'is_thing'):
            if key in sample:
                out[key] = sample[key]
        outputs.append(out)
    return outputs


@MODELS.register_module()
class DenseRegionClassifier(BaseModel):
    """Backbone + text classifier scoring annotated regions (evaluation only).

    Args:
        backbone: config of :class:`DeCLIPViT` (or any module returning
            ``(content, context)`` with content (B, E, H/p, W/p)).
        text_classifier: config of :class:`ZeroShotTextClassifier`;
            ``class_names`` is required and must list the dataset's classes in
            label order (``configs/class_names/coco_panoptic.txt`` for COCO
            panoptic); ``model_name`` / ``pretrained`` / ``checkpoint`` /
            ``quick_gelu`` default to the backbone's.
        data_preprocessor: None uses mmengine's ``BaseDataPreprocessor``
            (moves the batch to the device; the dataset already normalizes).
        normalize_tokens: L2-normalize every token of the dense map before pooling
            (EVA-CLIP's ``encode_dense``: CLIPSelf / DenseVLM evaluation); DeCLIP pools raw
            features.

    ``forward(inputs, data_samples, mode='predict')`` returns one dict per
    image, see :func:`classify_regions`; ``mode='tensor'`` the content map.
    """

    def __init__(self, backbone: dict, text_classifier: dict,
                 data_preprocessor: Optional[dict] = None, normalize_tokens: bool = False,
                 init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        text_classifier = dict(text_classifier)
        if text_classifier.get('class_names') is None:
            raise ValueError('DenseRegionClassifier needs model.text_classifier.class_names: the '
                             "dataset's class names in label order, e.g. "
                             'configs/class_names/coco_panoptic.txt for COCO panoptic')
        if text_classifier.get('embeddings_file') is None:
            for key in ('model_name', 'pretrained', 'checkpoint', 'quick_gelu'):
                if key in backbone:
                    text_classifier.setdefault(key, backbone[key])
        self.normalize_tokens = bool(normalize_tokens)
        self.backbone = MODELS.build(backbone)
        self.text_classifier = MODELS.build(text_classifier)

    @property
    def num_classes(self) -> int:
        return self.text_classifier.num_classes

    def forward(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
                data_samples: Optional[Sequence[dict]] = None, mode: str = 'predict'):
        if mode == 'loss':
            raise RuntimeError('DenseRegionClassifier only evaluates (mode "predict"); it has no '
                               'loss. Train with the DeCLIP distiller config instead')
        if mode not in ('predict', 'tensor'):
            raise ValueError(f"mode must be 'predict' or 'tensor', got {mode!r}")
        if not isinstance(inputs, torch.Tensor):
            inputs = torch.stack(list(inputs))
        with torch.no_grad():
            content, _ = self.backbone(inputs)
            if self.normalize_tokens:
                content = F.normalize(content, dim=1)
            if mode == 'tensor':
                return content
            if data_samples is None:
                raise ValueError('predict needs data_samples with the regions (boxes, masks)')
            return classify_regions(content, data_samples, self.text_classifier.query_embeddings,
                                    self.text_classifier.query_to_class)
