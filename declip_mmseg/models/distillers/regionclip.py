"""RegionCLIP mode of DenseVLM's code base: pseudo-labelled boxes, binary cross-entropy
against noun embeddings (:func:`region_clip_loss`)."""
from typing import Dict, Optional, Sequence, Union

import torch
from mmseg.registry import MODELS

from ...text import get_templates, load_embeddings_file, load_vocabulary
from ..losses import region_clip_loss
from ..utils.region_pooling import roi_pool
from .base import DistillerBase, valid_boxes


@MODELS.register_module()
class RegionCLIPDistiller(DistillerBase):
    """RegionCLIP mode of DenseVLM's code base: boxes with pseudo labels (``coco_pseudo_4764
    .json``), binary cross-entropy against the noun embeddings over ``num_sample_classes``
    sampled classes, logits scaled by the model's own (fixed) ``logit_scale.exp()``.

    Args:
        text_embeddings: (K, C) ``.npy`` of the K nouns in category-id order
            (``coco_pseudo_4764_clip_hand_craft_EVACLIP_ViTB16.npy``), L2-normalized here;
            None embeds the training set's category names (``metainfo['classes']``) with the
            student's text tower and ``templates``.
        num_sample_classes: classes scored per batch (100).
        loss_contrast_weight: weight of the loss (``--contrast-weight``, 1.0).
        base_kwargs: ``unlocked_blocks``, ``val_text_classifier``, ... of
            :class:`DistillerBase`.
    """

    def __init__(self, student: dict, text_embeddings: Optional[str] = None,
                 templates: Union[str, Sequence[str]] = 'densevlm_hand_craft',
                 num_sample_classes: int = 100, loss_contrast_weight: float = 1.0,
                 normalize_tokens: bool = True, **base_kwargs):
        super().__init__(student, normalize_tokens=normalize_tokens, **base_kwargs)
        self.text_embeddings_file = text_embeddings
        self.templates = templates
        self.num_sample_classes = int(num_sample_classes)
        self.loss_contrast_weight = float(loss_contrast_weight)
        self.train_classes = None   # set by the DistillHook from the training set

    def attach_teachers(self, device) -> None:
        """The noun embeddings and the initial CLIP's logit scale (no teacher network)."""
        s = self.student
        classes = list(self.train_classes or [])
        if self.text_embeddings_file is not None:
            emb = load_embeddings_file(self.text_embeddings_file, len(classes) or None,
                                       f'of the training set ({len(classes)} categories)')
        else:
            if not classes:
                raise ValueError('RegionCLIP needs text_embeddings= or a training set with '
                                 "category names (metainfo['classes'])")
            vocabulary = load_vocabulary(classes, split_synonyms=False)
            emb = self.text_encoder.embed(vocabulary.queries, get_templates(self.templates))
        if emb.shape[1] != s.embed_dim:
            raise ValueError(f'noun embeddings have {emb.shape[1]} channels but the student '
                             f'outputs {s.embed_dim}')
        scale = float(self.text_encoder.text_tower().logit_scale.detach().exp())
        self.set_teachers(noun_embeddings=emb.to(device), logit_scale=scale)

    def describe(self) -> str:
        emb = self._teachers.get('noun_embeddings')
        return f'RegionCLIP training over {0 if emb is None else emb.shape[0]} pseudo classes'

    def loss(self, inputs: torch.Tensor, data_samples: dict) -> Dict[str, torch.Tensor]:
        """``data_samples['boxes']`` (B, K, 6): xyxy in [0, 1], class, valid."""
        rows = data_samples['boxes']
        boxes, keep = valid_boxes(rows)
        labels = rows[keep][:, 4].long()
        content, _ = self.dense(inputs)
        feats = roi_pool(content, boxes)
        loss = region_clip_loss(feats, labels, self.get_teacher('noun_embeddings'),
                                self.get_teacher('logit_scale'), self.num_sample_classes)
        return dict(loss_contrast=self.loss_contrast_weight * loss)
