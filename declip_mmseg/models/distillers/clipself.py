"""CLIPSelf (ICLR'24, arXiv 2310.01403), as DenseVLM's code base runs it: region features learn the frozen
initial CLIP's embeddings of the region crops (``1 - cosine``)."""
from typing import Dict

import torch
from mmseg.registry import MODELS

from ..losses import content_loss
from ..utils.region_pooling import roi_pool
from .base import DistillerBase, valid_boxes


@MODELS.register_module()
class CLIPSelfDistiller(DistillerBase):
    """CLIPSelf (ICLR'24) as in DenseVLM's code base: ``1 - cosine`` between the student's
    RoI features of the grid cells and the frozen initial CLIP's embeddings of the cells'
    crops (its global image embedding).

    Args:
        loss_cosine_weight: weight of the loss (``--cosine-weight``, 1.0).
        normalize_tokens: L2-normalize the dense tokens (True, as DenseVLM's ``encode_dense``).
        base_kwargs: ``unlocked_blocks``, ``val_text_classifier``, ``val_attn_mode``, ... of
            :class:`DistillerBase`.
    """

    def __init__(self, student: dict, loss_cosine_weight: float = 1.0,
                 normalize_tokens: bool = True, **base_kwargs):
        super().__init__(student, normalize_tokens=normalize_tokens, **base_kwargs)
        self.loss_cosine_weight = float(loss_cosine_weight)

    def attach_teachers(self, device) -> None:
        """The initial CLIP's image tower (crops -> embeddings)."""
        self.set_teachers(teacher=self.initial_image_tower().to(device))

    def describe(self) -> str:
        return 'CLIPSelf distillation from the initial CLIP'

    def loss(self, inputs: torch.Tensor, data_samples: dict) -> Dict[str, torch.Tensor]:
        """``data_samples``: boxes (B, K, 5) and crops (B, K, 3, c, c) of the grid cells."""
        boxes, keep = valid_boxes(data_samples['boxes'])
        with torch.no_grad():
            target = self.teacher(data_samples['crops'][keep])
        content, _ = self.dense(inputs)
        rois = roi_pool(content, boxes)
        return dict(loss_cosine=self.loss_cosine_weight
                    * content_loss(rois.float(), target.float()))
