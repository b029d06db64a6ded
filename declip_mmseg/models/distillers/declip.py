"""DeCLIP (CVPR'25, arXiv 2505.04410): content features distilled from CLIP crop embeddings,
context features from a VFM's patch affinities."""
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmseg.registry import MODELS

from ..backbones.vfm import build_vfm
from ..losses import content_loss, context_loss
from ..utils.region_pooling import roi_pool
from .base import DistillerBase, valid_boxes


@MODELS.register_module()
class DeCLIPDistiller(DistillerBase):
    """Student CLIP image tower with DeCLIP's losses.

    Args:
        student: :class:`DenseCLIPViT` config; its ``attn_mode`` ('qq', 'kk' or 'csa') is the
            distillation mode (the last block's attention and the context features used).
        loss_content_weight, loss_context_weight: weights (DeCLIP: 1.0 and 0.25 in the paper,
            0.1 in the released scripts). A context weight of 0 is CLIPSelf.
        val_attn_mode: attention mode of the last block during validation ('qq' as DeCLIP).
        base_kwargs: ``unlocked_blocks``, ``val_text_classifier``, ... of
            :class:`DistillerBase`.
    """

    def __init__(self, student: dict, loss_content_weight: float = 1.0,
                 loss_context_weight: float = 0.25, val_attn_mode: Optional[str] = 'qq',
                 **base_kwargs):
        mode = student.get('attn_mode', 'qq')
        if mode not in ('qq', 'kk', 'csa'):
            raise ValueError(f"DeCLIP distils in mode 'qq', 'kk' or 'csa', not {mode!r}")
        self.mode = mode
        super().__init__(student, val_attn_mode=val_attn_mode, **base_kwargs)
        self.loss_content_weight = float(loss_content_weight)
        self.loss_context_weight = float(loss_context_weight)

    def probe(self, content, context):
        return content.sum() + sum(context[key].sum() for key in self.context_keys())

    def context_keys(self):
        return {'qq': ('q',), 'kk': ('k',), 'csa': ('q', 'k')}[self.mode]

    # -- teachers --------------------------------------------------------------
    def attach_teachers(self, device, vfm: Optional[dict] = None) -> None:
        """The initial CLIP's image tower (crops -> embeddings) and, with ``vfm`` (the keyword
        arguments of :func:`declip_mmseg.models.backbones.build_vfm`), the context teacher."""
        self.set_teachers(self.initial_image_tower().to(device),
                          build_vfm(**vfm).to(device) if vfm is not None else None)

    def set_teachers(self, teacher: nn.Module, vfm: Optional[nn.Module]) -> None:
        """Attach the frozen teacher image tower (crops -> embeddings) and VFM."""
        super().set_teachers(teacher=teacher, vfm=vfm)

    def check_inputs(self, dataset, key: str = 'train_dataloader.dataset') -> None:
        """:meth:`DistillerBase.check_inputs`, and the VFM view's patch (``vfm_patch``) equal to
        the VFM's: the two patch grids must match (560 / 16 * 14 = 490 for DINOv2)."""
        super().check_inputs(dataset, key)
        vfm = self._teachers.get('vfm')
        vfm_patch = getattr(dataset, 'vfm_patch', None)
        if vfm is not None and getattr(dataset, 'with_vfm_view', False) and vfm_patch is not None \
                and vfm_patch != vfm.patch_size:
            raise ValueError(f'{key}.vfm_patch={vfm_patch}, but the VFM teacher {vfm.name} has '
                             f'{vfm.patch_size}-pixel patches; set {key}.vfm_patch={vfm.patch_size}')

    def describe(self) -> str:
        vfm = self._teachers.get('vfm')
        return (f'DeCLIP distillation ({self.mode}), '
                f'{type(vfm).__name__ if vfm is not None else "no VFM"}')

    # -- losses ----------------------------------------------------------------
    def loss(self, inputs: torch.Tensor, data_samples: dict) -> Dict[str, torch.Tensor]:
        """``inputs`` (B, 3, S, S); ``data_samples``: boxes (B, K, 5), crops (B, K, 3, c, c),
        vfm_inputs (B, 3, V, V). Returns the weighted losses."""
        content, context = self.student(inputs)
        boxes, keep = valid_boxes(data_samples['boxes'])       # keep: (B, K) valid grid cells
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
