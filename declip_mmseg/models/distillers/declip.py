"""DeCLIP (CVPR'25): content features distilled from CLIP crop embeddings, context
features from a VFM's patch affinities."""
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmseg.registry import MODELS

from ..distill_losses import content_loss, context_loss
from ..region_pooling import roi_pool
from .base import DistillerBase


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
        from ...engine.distill_hook import build_teacher
        from ..vfm import build_vfm
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
