"""DenseVLM (ICCV'25, arXiv 2412.06244): region-category distributions of a frozen P-VLM over a thing + stuff
vocabulary, learned things and stuff apart (:func:`densevlm_loss`).

The student's dense path is EVA-CLIP's ``encode_dense``: the last block with its attention
replaced by the value path (``DenseCLIPViT(attn_mode='identity', residual=True, ffn=True)``),
every token L2-normalized, regions pooled by a 1x1 aligned RoIAlign.
"""
import os.path as osp
from typing import Dict, Optional, Sequence, Union

import torch
from mmseg.registry import MODELS

from ...clip import local_path, looks_like_path, weight_source
from ...text import TextEncoder, get_templates, load_embeddings_file, load_vocabulary
from ..builder import build_dense_backbone
from ..losses import densevlm_loss_with_stats
from ..utils.region_pooling import roi_pool
from .base import DistillerBase, valid_boxes

DENSEVLM_TEACHER_HINT = (
    'DenseVLM distils from clipself_coco_6_save6_512_eva_vitl14_24layers.pt, a CLIPSelf-tuned '
    'EVA02-CLIP-L/14-336 (https://huggingface.co/lyhisme/DenseVLM); put it in checkpoints/, or '
    'point the DistillHook\'s teachers.teacher.pretrained at any open_clip / EVA-CLIP file of '
    'the teacher architecture (teachers.teacher.model_name)')


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
                 min_confidence: float = 0.3, normalize_tokens: bool = True, **base_kwargs):
        super().__init__(student, normalize_tokens=normalize_tokens, **base_kwargs)
        self.vocabulary = load_vocabulary(class_names, split_synonyms=split_synonyms)
        if self.vocabulary.num_classes != len(self.vocabulary.queries):
            raise ValueError(f'{self.vocabulary.source}: DenseVLM needs one name per class; '
                             'set split_synonyms=False')
        if not 0 <= int(num_thing_classes) <= self.vocabulary.num_classes:
            raise ValueError(f'num_thing_classes {num_thing_classes} is outside 0..'
                             f'{self.vocabulary.num_classes} (the vocabulary size)')
        self.templates = get_templates(templates)
        self.num_thing_classes = int(num_thing_classes)
        self.temperature = float(temperature)
        self.min_confidence = float(min_confidence)
        self.text_files = dict(student=student_text_embeddings, teacher=teacher_text_embeddings)
        self._text: Dict[str, torch.Tensor] = {}
        for side, path in self.text_files.items():  # read now: a bad file fails before training
            if path is not None:
                self._text[side] = load_embeddings_file(path, len(self.vocabulary.queries),
                                                        self.vocabulary.source)

    def class_embeddings(self, encoder: TextEncoder) -> torch.Tensor:
        """(K, E) embeddings of the vocabulary with ``encoder``'s text tower: the plain mean of
        the unit-norm prompt embeddings, not renormalised (DenseVLM's generator)."""
        return encoder.embed(self.vocabulary.queries, self.templates, normalize_mean=False)

    def attach_teachers(self, device, teacher: Optional[dict] = None) -> None:
        """Build the frozen P-VLM (``teacher``: model_name, pretrained, checkpoint of a CLIP
        with the student's dense path) and the class embeddings of both models."""
        if teacher is None or 'model_name' not in teacher:
            raise ValueError('DenseVLM needs a teacher: DistillHook(teachers=dict(teacher=dict('
                             f"model_name='EVA02-L-14-336', pretrained=FILE))). {DENSEVLM_TEACHER_HINT}")
        for key in ('pretrained', 'checkpoint'):
            path = teacher.get(key)
            if path and looks_like_path(path) and not osp.isfile(local_path(path)):
                raise FileNotFoundError(f'DenseVLM teacher weights {path!r} do not exist. '
                                        f'{DENSEVLM_TEACHER_HINT}')
        s = self.student
        net, text_clip = build_dense_backbone(dict(
            type='DenseCLIPViT', attn_mode=s.attn_mode, residual=s.residual, ffn=s.ffn,
            attn_scale=None if s.attn_mode == 'identity' else s.attn_scale, **teacher))
        encoders = dict(student=self.text_encoder,
                        teacher=TextEncoder(**weight_source(teacher), clip=text_clip))
        text = {}
        for side, width in (('student', s.embed_dim), ('teacher', net.embed_dim)):
            emb = self._text.get(side)
            if emb is None:
                emb = self.class_embeddings(encoders[side])
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
