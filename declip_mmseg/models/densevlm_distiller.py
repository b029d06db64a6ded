"""The three training modes of DenseVLM's code base on :class:`DistillerBase`.

All three use EVA-CLIP's ``encode_dense`` as the student's dense path: the last block with
its attention replaced by the value path (``DeCLIPViT(attn_mode='identity', residual=True,
ffn=True)``), every token L2-normalized (``normalize_tokens=True``), regions pooled by a
1x1 aligned RoIAlign.

* :class:`DenseVLMDistiller`: a frozen stronger CLIP (P-VLM) scores every grid region
  against a thing + stuff vocabulary; the student learns those class distributions, things
  and stuff apart (:func:`densevlm_loss`).
* :class:`CLIPSelfDistiller`: region features learn the frozen initial CLIP's embeddings of
  the region crops (``1 - cosine``).
* :class:`RegionCLIPDistiller`: pseudo-labelled boxes, binary cross-entropy against noun
  embeddings (:func:`region_clip_loss`).
"""
import os.path as osp
from typing import Dict, Optional, Sequence, Union

import torch
from mmseg.registry import MODELS

from ..text import load_vocabulary
from .clip_loader import looks_like_path
from .distill_losses import content_loss, densevlm_loss_with_stats, region_clip_loss
from .distiller import DistillerBase
from .region_pooling import roi_pool

DENSEVLM_TEACHER_HINT = (
    'DenseVLM distils from clipself_coco_6_save6_512_eva_vitl14_24layers.pt, a CLIPSelf-tuned '
    'EVA02-CLIP-L/14-336 (https://huggingface.co/lyhisme/DenseVLM); put it in checkpoints/, or '
    'point the DistillHook\'s teachers.teacher.pretrained at any open_clip / EVA-CLIP file of '
    'the teacher architecture (teachers.teacher.model_name)')


def valid_boxes(boxes: torch.Tensor):
    """(B, K, 5+) box rows with the valid flag last -> per-image (n_i, 4) xyxy and the mask."""
    keep = boxes[..., -1] > 0.5
    return [b[k, :4] for b, k in zip(boxes, keep)], keep


@MODELS.register_module()
class DenseVLMDistiller(DistillerBase):
    """DenseVLM (ICCV'25): decoupled region-category distillation from a frozen P-VLM.

    Args:
        student: :class:`DeCLIPViT` config of the student (EVA02-B-16, ``attn_mode='identity'``,
            ``residual=True``, ``ffn=True``); the teacher gets the same dense path.
        class_names: the vocabulary (a file, one class per line, things first):
            ``configs/class_names/densevlm/thing204_stuff112.txt``.
        split_synonyms: False (DenseVLM) embeds every line whole, commas included.
        templates: prompt set of the embeddings ('densevlm_hand_craft', DenseVLM's 63).
        student_text_embeddings, teacher_text_embeddings: DenseVLM's ``.npy`` files
            ((K, 512) / (K, 768)), used exactly as given; None embeds ``class_names`` with
            each model's own text tower (plain mean of the unit-norm prompt embeddings, not
            renormalized, as DenseVLM's generator; cached).
        num_thing_classes, temperature, min_confidence: see :func:`densevlm_loss`.
        unlocked_blocks, val_text_classifier, val_attn_mode, normalize_tokens: see
            :class:`DistillerBase`.
    The teacher is built by the ``DistillHook``: ``teachers=dict(teacher=dict(model_name=...,
    pretrained=..., checkpoint=None))``.
    """

    def __init__(self, student: dict, class_names: Union[str, Sequence[str]],
                 templates: Union[str, Sequence[str]] = 'densevlm_hand_craft',
                 split_synonyms: bool = False,
                 student_text_embeddings: Optional[str] = None,
                 teacher_text_embeddings: Optional[str] = None,
                 num_thing_classes: int = 203, temperature: float = 100.0,
                 min_confidence: float = 0.3, unlocked_blocks: Optional[int] = None,
                 val_text_classifier: Optional[dict] = None, val_attn_mode: Optional[str] = None,
                 normalize_tokens: bool = True, data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(student, unlocked_blocks=unlocked_blocks,
                         val_text_classifier=val_text_classifier, val_attn_mode=val_attn_mode,
                         normalize_tokens=normalize_tokens, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.vocabulary = load_vocabulary(class_names, split_synonyms=split_synonyms)
        if self.vocabulary.num_classes != len(self.vocabulary.queries):
            raise ValueError(f'{self.vocabulary.source}: DenseVLM needs one name per class; '
                             'set split_synonyms=False')
        if not 0 <= int(num_thing_classes) <= self.vocabulary.num_classes:
            raise ValueError(f'num_thing_classes {num_thing_classes} is outside 0..'
                             f'{self.vocabulary.num_classes} (the vocabulary size)')
        self.templates = templates
        self.num_thing_classes = int(num_thing_classes)
        self.temperature = float(temperature)
        self.min_confidence = float(min_confidence)
        self.text_files = dict(student=student_text_embeddings, teacher=teacher_text_embeddings)
        self._text: Dict[str, torch.Tensor] = {}
        for side, path in self.text_files.items():  # read now: a bad file fails before training
            if path is not None:
                self._text[side] = self._text_classifier(path, None).query_embeddings

    def _text_classifier(self, embeddings_file: Optional[str], clip: Optional[dict],
                         device=None):
        from .text_classifier import ZeroShotTextClassifier
        clip = {k: v for k, v in (clip or {}).items()
                if k in ('model_name', 'pretrained', 'checkpoint', 'quick_gelu')}
        return ZeroShotTextClassifier(
            class_names=self.vocabulary, templates=self.templates, normalize_mean=False,
            embeddings_file=embeddings_file,
            encode_device=str(device) if device is not None else None, **clip)

    def attach_teachers(self, device, teacher: Optional[dict] = None) -> None:
        """Build the frozen P-VLM (``teacher``: model_name, pretrained, checkpoint of a CLIP
        with the student's dense path) and the class embeddings of both models."""
        if teacher is None or 'model_name' not in teacher:
            raise ValueError('DenseVLM needs a teacher: DistillHook(teachers=dict(teacher=dict('
                             f"model_name='EVA02-L-14-336', pretrained=FILE))). {DENSEVLM_TEACHER_HINT}")
        for key in ('pretrained', 'checkpoint'):
            path = teacher.get(key)
            if path and looks_like_path(path) and not osp.isfile(path):
                raise FileNotFoundError(f'DenseVLM teacher weights {path!r} do not exist. '
                                        f'{DENSEVLM_TEACHER_HINT}')
        s = self.student
        net = MODELS.build(dict(type='DeCLIPViT', attn_mode=s.attn_mode, residual=s.residual,
                                ffn=s.ffn, attn_scale=None if s.attn_mode == 'identity'
                                else s.attn_scale, **teacher))
        student_clip = dict(model_name=s.model_name, pretrained=s.pretrained,
                            checkpoint=s.checkpoint, quick_gelu=s.quick_gelu)
        text = {}
        for side, clip, width in (('student', student_clip, s.embed_dim),
                                  ('teacher', teacher, net.embed_dim)):
            emb = self._text.get(side)
            if emb is None:
                emb = self._text_classifier(None, clip, device).query_embeddings
            if emb.shape[1] != width:
                raise ValueError(f'{side} text embeddings ({self.text_files[side] or "encoded"}) '
                                 f'have {emb.shape[1]} channels but the {side} model outputs '
                                 f'{width}: use the file of that model')
            text[side] = emb.to(device)
        self.set_teachers(teacher=net.to(device), teacher_text=text['teacher'],
                          student_text=text['student'])

    def describe(self) -> str:
        t = self._teachers.get('teacher')
        return (f'DenseVLM distillation from {getattr(t, "model_name", "?")} over '
                f'{self.vocabulary.num_classes} classes ({self.num_thing_classes} things)')

    def teacher_regions(self, inputs: torch.Tensor, boxes) -> torch.Tensor:
        """RoI features of the frozen teacher on the same input. A patch size that does not
        divide the input drops the last pixels (as a strided patch convolution does, e.g.
        L/14 at 512: 36 x 36 tokens over 504 px) while boxes stay normalized to the input."""
        teacher = self.teacher
        p = teacher.patch_size
        H, W = inputs.shape[-2:]
        with torch.no_grad():
            dense, _ = teacher(inputs[..., :H // p * p, :W // p * p])
            if self.normalize_tokens:
                dense = torch.nn.functional.normalize(dense, dim=1)
            return roi_pool(dense, boxes)

    def loss(self, inputs: torch.Tensor, data_samples: dict) -> Dict[str, torch.Tensor]:
        """``inputs`` (B, 3, S, S); ``data_samples['boxes']`` (B, K, 5) grid boxes."""
        boxes, _ = valid_boxes(data_samples['boxes'])
        t_rois = self.teacher_regions(inputs, boxes)
        content, _ = self.dense(inputs)
        s_rois = roi_pool(content, boxes)
        loss, stats = densevlm_loss_with_stats(
            t_rois, s_rois, self.get_teacher('teacher_text'), self.get_teacher('student_text'),
            self.num_thing_classes, self.temperature, self.min_confidence)
        as_tensor = lambda v: torch.tensor(float(v), device=loss.device)  # noqa: E731
        return dict(loss_kl=loss, regions_kept=as_tensor(stats['kept']),
                    regions_thing=as_tensor(stats['thing']),
                    regions_stuff=as_tensor(stats['stuff']))


@MODELS.register_module()
class CLIPSelfDistiller(DistillerBase):
    """CLIPSelf (ICLR'24) as in DenseVLM's code base: ``1 - cosine`` between the student's
    RoI features of the grid cells and the frozen initial CLIP's embeddings of the cells'
    crops (its global image embedding).

    Args:
        loss_cosine_weight: weight of the loss (``--cosine-weight``, 1.0).
        others: see :class:`DistillerBase`.
    """

    def __init__(self, student: dict, loss_cosine_weight: float = 1.0,
                 unlocked_blocks: Optional[int] = None, val_text_classifier: Optional[dict] = None,
                 val_attn_mode: Optional[str] = None, normalize_tokens: bool = True,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(student, unlocked_blocks=unlocked_blocks,
                         val_text_classifier=val_text_classifier, val_attn_mode=val_attn_mode,
                         normalize_tokens=normalize_tokens, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.loss_cosine_weight = float(loss_cosine_weight)

    def attach_teachers(self, device) -> None:
        from ..engine.distill_hook import build_teacher
        self.set_teachers(teacher=build_teacher(self.student).to(device))

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
    """

    def __init__(self, student: dict, text_embeddings: Optional[str] = None,
                 templates: Union[str, Sequence[str]] = 'densevlm_hand_craft',
                 num_sample_classes: int = 100, loss_contrast_weight: float = 1.0,
                 unlocked_blocks: Optional[int] = None, val_text_classifier: Optional[dict] = None,
                 val_attn_mode: Optional[str] = None, normalize_tokens: bool = True,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        super().__init__(student, unlocked_blocks=unlocked_blocks,
                         val_text_classifier=val_text_classifier, val_attn_mode=val_attn_mode,
                         normalize_tokens=normalize_tokens, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.text_embeddings_file = text_embeddings
        self.templates = templates
        self.num_sample_classes = int(num_sample_classes)
        self.loss_contrast_weight = float(loss_contrast_weight)
        self.train_classes = None   # set by the DistillHook from the training set

    def attach_teachers(self, device) -> None:
        """The noun embeddings and the initial CLIP's logit scale (no teacher network)."""
        from .clip_loader import build_clip
        from .text_classifier import ZeroShotTextClassifier, load_embeddings_file
        s = self.student
        classes = list(self.train_classes or [])
        if self.text_embeddings_file is not None:
            emb = load_embeddings_file(self.text_embeddings_file, len(classes) or None,
                                       f'of the training set ({len(classes)} categories)')
        else:
            if not classes:
                raise ValueError('RegionCLIP needs text_embeddings= or a training set with '
                                 "category names (metainfo['classes'])")
            emb = ZeroShotTextClassifier(
                class_names=load_vocabulary(classes, split_synonyms=False),
                templates=self.templates, model_name=s.model_name, pretrained=s.pretrained,
                checkpoint=s.checkpoint, quick_gelu=s.quick_gelu,
                encode_device=str(device)).query_embeddings
        if emb.shape[1] != s.embed_dim:
            raise ValueError(f'noun embeddings have {emb.shape[1]} channels but the student '
                             f'outputs {s.embed_dim}')
        scale = float(build_clip(s.model_name, s.pretrained, checkpoint=s.checkpoint,
                                 quick_gelu=s.quick_gelu).logit_scale.detach().exp())
        self.set_teachers(noun_embeddings=emb.to(device), logit_scale=scale)

    def describe(self) -> str:
        emb = self._teachers.get('noun_embeddings')
        return f'RegionCLIP training over {0 if emb is None else emb.shape[0]} pseudo classes'

    def loss(self, inputs: torch.Tensor, data_samples: dict) -> Dict[str, torch.Tensor]:
        """``data_samples['boxes']`` (B, K, 6): xyxy in [0, 1], class, valid."""
        rows = data_samples['boxes']
        keep = rows[..., 5] > 0.5
        boxes = [r[k, :4] for r, k in zip(rows, keep)]
        labels = rows[keep][:, 4].long()
        content, _ = self.dense(inputs)
        feats = roi_pool(content, boxes)
        loss = region_clip_loss(feats, labels, self.get_teacher('noun_embeddings'),
                                self.get_teacher('logit_scale'), self.num_sample_classes)
        return dict(loss_contrast=self.loss_contrast_weight * loss)
