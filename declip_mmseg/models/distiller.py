"""Distillers: a student CLIP image tower trained by frozen teachers, one class per method.

:class:`DistillerBase` holds what the methods share: the student (:class:`DeCLIPViT`),
which of its parameters train, the frozen teachers (attached by
:class:`declip_mmseg.engine.DistillHook` and kept out of the module tree, so checkpoints
hold the student only), and ``predict()``: region classification with the student's dense
features (the validation of DeCLIP and DenseVLM).  A method subclasses it and defines
``attach_teachers`` and ``loss``:

* :class:`DeCLIPDistiller` (here): DeCLIP's content and context losses;
* :class:`~declip_mmseg.models.densevlm_distiller.DenseVLMDistiller`: DenseVLM's decoupled
  region-category KL;
* :class:`~declip_mmseg.models.densevlm_distiller.CLIPSelfDistiller` and
  :class:`~declip_mmseg.models.densevlm_distiller.RegionCLIPDistiller`: the other two modes
  of DenseVLM's code base.
"""
import contextlib
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmseg.registry import MODELS

from .distill_losses import content_loss, context_loss
from .region_pooling import roi_pool


class DistillerBase(BaseModel):
    """Student CLIP image tower, frozen teachers, region-classification ``predict``.

    Args:
        student: :class:`DeCLIPViT` config (weights, dense path of the last block).
        unlocked_blocks: how many of the last transformer blocks train (None: all). Parts
            outside the blocks (patch embedding, positions, final norm, projection) stay
            frozen, and so do block parameters the method's dense path never uses (found by
            probing one tiny forward / backward, see :meth:`probe`).
        val_text_classifier: :class:`ZeroShotTextClassifier` config with the validation
            categories (region classification); ``model_name`` etc. default to the student's.
        val_attn_mode: attention mode of the last block during validation (None: the
            student's own).
        normalize_tokens: L2-normalize every token of the dense map before pooling
            (EVA-CLIP's ``encode_dense`` in CLIPSelf / DenseVLM); DeCLIP pools raw features.
    """

    def __init__(self, student: dict, unlocked_blocks: Optional[int] = None,
                 val_text_classifier: Optional[dict] = None, val_attn_mode: Optional[str] = None,
                 normalize_tokens: bool = False, data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor or dict(type='BaseDataPreprocessor'),
                         init_cfg=init_cfg)
        self.student = MODELS.build(student)
        self.val_attn_mode = val_attn_mode
        self.normalize_tokens = bool(normalize_tokens)
        self.val_text_classifier = None
        if val_text_classifier is not None:
            cfg = dict(val_text_classifier)
            if cfg.get('embeddings_file') is None:
                for key in ('model_name', 'pretrained', 'checkpoint', 'quick_gelu'):
                    if key in student:
                        cfg.setdefault(key, student[key])
            self.val_text_classifier = MODELS.build(cfg)
            self.val_text_classifier.requires_grad_(False)
        self._teachers: Dict[str, nn.Module] = {}
        self.freeze(unlocked_blocks)

    # -- what trains ---------------------------------------------------------
    def blocks(self) -> nn.ModuleList:
        tower = self.student.tower
        return tower.trunk.blocks if hasattr(tower, 'trunk') else tower.visual.transformer.resblocks

    def probe(self, content: torch.Tensor, context: Dict[str, torch.Tensor]) -> torch.Tensor:
        """A scalar of every student output the losses use (default: the dense map)."""
        return content.sum()

    def freeze(self, unlocked_blocks: Optional[int]) -> None:
        """Train only the last ``unlocked_blocks`` blocks, minus parameters that get no
        gradient from the losses (found by probing one tiny forward / backward)."""
        self.student.requires_grad_(False)
        blocks = self.blocks()
        n = len(blocks) if unlocked_blocks is None else int(unlocked_blocks)
        if not 0 < n <= len(blocks):
            raise ValueError(f'unlocked_blocks must be in 1..{len(blocks)}, got {unlocked_blocks}')
        for blk in blocks[len(blocks) - n:]:
            blk.requires_grad_(True)
        p = self.student.patch_size
        used = self.probe(*self.student(torch.zeros(1, 3, 2 * p, 2 * p)))
        params = [q for q in self.student.parameters() if q.requires_grad]
        grads = torch.autograd.grad(used, params, allow_unused=True)
        for param, grad in zip(params, grads):
            if grad is None:
                param.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.val_text_classifier is not None:
            self.val_text_classifier.eval()
        return self

    # -- teachers --------------------------------------------------------------
    def attach_teachers(self, device: torch.device, **specs) -> None:
        """Build the frozen teachers on ``device`` (called by ``DistillHook.before_train``
        with the hook's ``teachers`` dict) and :meth:`set_teachers` them."""
        raise NotImplementedError

    def set_teachers(self, **modules: Optional[nn.Module]) -> None:
        """Attach frozen teacher modules by name (not registered as submodules)."""
        for module in modules.values():
            if isinstance(module, nn.Module):
                module.requires_grad_(False)
                module.eval()
        self._teachers = dict(modules)

    def get_teacher(self, name: str = 'teacher'):
        if name not in self._teachers:
            raise RuntimeError(f'no {name} attached: {type(self).__name__} trains with a '
                               "DistillHook in the config's custom_hooks")
        return self._teachers[name]

    @property
    def teacher(self) -> nn.Module:
        return self.get_teacher('teacher')

    def describe(self) -> str:
        """One line for the training log."""
        return type(self).__name__

    # -- dense features ----------------------------------------------------------
    def dense(self, inputs: torch.Tensor):
        """Student ``(content, context)``; content token-normalized if ``normalize_tokens``."""
        content, context = self.student(inputs)
        if self.normalize_tokens:
            content = F.normalize(content, dim=1)
        return content, context

    # -- mmengine API ------------------------------------------------------------
    def forward(self, inputs: torch.Tensor, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return self.student(inputs)

    def loss(self, inputs: torch.Tensor, data_samples) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def predict(self, inputs: torch.Tensor, data_samples=None):
        """Region classification of the validation regions (see ``DenseRegionClassifier``)."""
        from .region_classifier import classify_regions
        if self.val_text_classifier is None:
            raise RuntimeError('validation needs val_text_classifier (the category names)')
        if isinstance(inputs, (list, tuple)):  # pseudo_collate keeps images in a list
            inputs = torch.stack(list(inputs))
        with torch.no_grad(), self._val_attn_mode():
            content, _ = self.dense(inputs)
        clf = self.val_text_classifier
        return classify_regions(content, data_samples, clf.query_embeddings, clf.query_to_class)

    @contextlib.contextmanager
    def _val_attn_mode(self):
        saved = self.student.attn_mode
        self.student.attn_mode = self.val_attn_mode or saved
        try:
            yield
        finally:
            self.student.attn_mode = saved


@MODELS.register_module()
class DeCLIPDistiller(DistillerBase):
    """Student CLIP image tower with DeCLIP's losses.

    Args:
        student: :class:`DeCLIPViT` config; its ``attn_mode`` ('qq', 'kk' or 'csa') is the
            distillation mode (the last block's attention and the context features used).
        loss_content_weight, loss_context_weight: weights (DeCLIP: 1.0 and 0.25 in the paper,
            0.1 in the released scripts). A context weight of 0 is CLIPSelf.
        unlocked_blocks: how many of the last transformer blocks train (None: all). Parts
            outside the blocks (patch embedding, positions, final norm, projection) stay
            frozen, and so do last-block parameters the decoupled path never uses.
        val_text_classifier: :class:`ZeroShotTextClassifier` config with the validation
            categories (region classification); ``model_name`` etc. default to the student's.
        val_attn_mode: attention mode of the last block during validation ('qq' as DeCLIP).
    """

    def __init__(self, student: dict, loss_content_weight: float = 1.0,
                 loss_context_weight: float = 0.25, unlocked_blocks: Optional[int] = None,
                 val_text_classifier: Optional[dict] = None, val_attn_mode: Optional[str] = 'qq',
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        mode = student.get('attn_mode', 'qq')
        if mode not in ('qq', 'kk', 'csa'):
            raise ValueError(f"DeCLIP distils in mode 'qq', 'kk' or 'csa', not {mode!r}")
        self.mode = mode
        super().__init__(student, unlocked_blocks=unlocked_blocks,
                         val_text_classifier=val_text_classifier, val_attn_mode=val_attn_mode,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.loss_content_weight = float(loss_content_weight)
        self.loss_context_weight = float(loss_context_weight)

    def probe(self, content, context):
        return content.sum() + sum(context[key].sum() for key in self.context_keys())

    def context_keys(self):
        return {'qq': ('q',), 'kk': ('k',), 'csa': ('q', 'k')}[self.mode]

    # -- teachers --------------------------------------------------------------
    def attach_teachers(self, device, vfm: Optional[dict] = None) -> None:
        """The initial CLIP's image tower (crops -> embeddings) and, with ``vfm`` (see
        :func:`declip_mmseg.models.vfm.build_vfm`), the context teacher."""
        from ..engine.distill_hook import build_teacher
        from .vfm import build_vfm
        self.set_teachers(build_teacher(self.student).to(device),
                          build_vfm(**vfm).to(device) if vfm is not None else None)

    def set_teachers(self, teacher: nn.Module, vfm: Optional[nn.Module]) -> None:
        """Attach the frozen teacher image tower (crops -> embeddings) and VFM."""
        super().set_teachers(teacher=teacher, vfm=vfm)

    def describe(self) -> str:
        vfm = self._teachers.get('vfm')
        return (f'DeCLIP distillation ({self.mode}), '
                f'{type(vfm).__name__ if vfm is not None else "no VFM"}')

    # -- losses ----------------------------------------------------------------
    def loss(self, inputs: torch.Tensor, data_samples: dict) -> Dict[str, torch.Tensor]:
        """``inputs`` (B, 3, S, S); ``data_samples``: boxes (B, K, 5), crops (B, K, 3, c, c),
        vfm_inputs (B, 3, V, V). Returns the weighted losses."""
        content, context = self.student(inputs)
        keep = data_samples['boxes'][..., 4] > 0.5            # (B, K) valid grid cells
        boxes = [b[k, :4] for b, k in zip(data_samples['boxes'], keep)]
        with torch.no_grad():
            teacher_embeds = self.teacher(data_samples['crops'][keep])
        losses = {'loss_content': self.loss_content_weight
                  * content_loss(roi_pool(content, boxes).float(), teacher_embeds.float())}
        vfm = self._teachers.get('vfm')
        if self.loss_context_weight > 0:
            if vfm is None:
                raise RuntimeError('loss_context_weight > 0 needs a VFM (DeCLIPDistillHook vfm=...)')
            with torch.no_grad():
                vfm_features = vfm(data_samples['vfm_inputs']).float()
            ctx = {k: v.float() for k, v in context.items()}
            losses['loss_context'] = self.loss_context_weight * context_loss(
                vfm_features, ctx, self.mode, self.student.tower.num_heads)
        return losses
