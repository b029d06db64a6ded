"""DenseRegionClassifier: a backbone and a text classifier scoring annotated regions
(``tools/test.py`` with a region-classification config; :func:`classify_regions`)."""
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmseg.registry import MODELS

from ..builder import build_backbone_and_text
from ..heads.region_classifier import classify_regions


@MODELS.register_module()
class DenseRegionClassifier(BaseModel):
    """Backbone + text classifier scoring annotated regions (evaluation only).

    Args:
        backbone: config of :class:`DenseCLIPViT` (or any module returning
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
        if text_classifier.get('class_names') is None:
            raise ValueError('DenseRegionClassifier needs model.text_classifier.class_names: the '
                             "dataset's class names in label order, e.g. "
                             'configs/class_names/coco_panoptic.txt for COCO panoptic')
        self.normalize_tokens = bool(normalize_tokens)
        self.backbone, self.text_classifier = build_backbone_and_text(backbone, text_classifier)

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
