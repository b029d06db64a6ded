"""DeCLIPDistillHook: sets up DeCLIP's distillation stage around mmengine's training loop."""
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ..models.clip_loader import build_clip


def unwrap(model):
    return model.module if is_model_wrapper(model) else model


def build_teacher(student) -> torch.nn.Module:
    """The frozen initial CLIP's image tower (crops -> image embeddings), rebuilt from the
    student's weight source, so a resumed run gets the same teacher as a fresh one."""
    clip = build_clip(student.model_name, student.pretrained, checkpoint=student.checkpoint,
                      quick_gelu=student.quick_gelu)
    return clip.visual.requires_grad_(False).eval()


def export_student(model, path: str, alpha: Optional[float] = None) -> str:
    """Save the student as a full CLIP checkpoint in open_clip format (text tower from the
    base weights), optionally blended ``alpha * student + (1 - alpha) * teacher`` (DeCLIP's
    weight ensembling at save time). Loads with ``DeCLIPViT(model_name, pretrained=path)``."""
    student = model.student
    clip = build_clip(student.model_name, student.pretrained, checkpoint=student.checkpoint,
                      quick_gelu=student.quick_gelu)
    trained = student.tower.visual.state_dict()
    if alpha is not None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        initial = clip.visual.state_dict()
        trained = {k: alpha * v.float() + (1 - alpha) * initial[k].float()
                   if v.is_floating_point() else v for k, v in trained.items()}
    clip.visual.load_state_dict({k: v.cpu() for k, v in trained.items()})
    state = {k: v.contiguous() for k, v in clip.state_dict().items()}
    tmp = f'{path}.tmp'
    torch.save(state, tmp)
    os.replace(tmp, path)  # never a half-written checkpoint
    return path


@HOOKS.register_module()
class DeCLIPDistillHook(Hook):
    """Runs DeCLIP's distillation stage: frozen teacher and VFM in, student out.

    Args:
        vfm: ``dict(name='dinov2-B', weights='checkpoints/dinov2_vitb14_reg4_pretrain.pth')``
            (see :func:`declip_mmseg.models.vfm.build_vfm`); None for CLIPSelf-style content
            distillation only.
        alpha: blend of student and initial weights in the exported checkpoint (DeCLIP's
            scripts: 0.7 for B/16, 0.95 for L/14); None exports the student as trained.
        export_name: file name of the exported inference checkpoint in the work dir.
    """
    priority = 'HIGH'

    def __init__(self, vfm: Optional[dict] = None, alpha: Optional[float] = None,
                 export_name: str = 'declip_student.pt'):
        self.vfm_cfg = vfm
        self.alpha = alpha
        self.export_name = export_name

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        device = next(model.parameters()).device
        teacher = build_teacher(model.student).to(device)
        vfm = None
        if self.vfm_cfg is not None:
            from ..models.vfm import build_vfm
            vfm = build_vfm(**self.vfm_cfg).to(device)
        model.set_teachers(teacher, vfm)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.student.parameters())
        print_log(f'DeCLIP distillation ({model.mode}): {trainable / 1e6:.2f}M of '
                  f'{total / 1e6:.2f}M student parameters train; teacher and '
                  f'{self.vfm_cfg["name"] if vfm is not None else "no VFM"} frozen',
                  logger='current')

    def before_train_epoch(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        if hasattr(dataset, 'set_epoch'):
            dataset.set_epoch(runner.epoch)

    def after_train(self, runner) -> None:
        if not is_main_process():
            return
        path = osp.join(runner.work_dir, self.export_name)
        export_student(unwrap(runner.model), path, self.alpha)
        print_log(f'exported the distilled CLIP to {path} (open_clip format'
                  f'{f", alpha {self.alpha}" if self.alpha is not None else ""}); evaluate it with '
                  f'tools/test.py CONFIG --checkpoint {path}', logger='current')
