"""DistillHook: sets up a distillation stage around mmengine's training loop."""
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


def unwrap(model):
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class DistillHook(Hook):
    """Runs a distillation stage around mmengine's training loop: frozen teachers in
    (``model.attach_teachers(device, **teachers)`` before training, also after a resume),
    the grid draw of every epoch, the student out as a full CLIP at the end.

    Args:
        teachers: keyword arguments of the model's ``attach_teachers`` (e.g. DenseVLM's
            ``teacher=dict(model_name='EVA02-L-14-336', pretrained=FILE)``).
        alpha: blend of student and initial weights in the exported checkpoint
            (``alpha * student + (1 - alpha) * initial``); None exports the student as trained.
        export_name: file name of the exported inference checkpoint in the work dir.
    """
    priority = 'HIGH'

    def __init__(self, teachers: Optional[dict] = None, alpha: Optional[float] = None,
                 export_name: str = 'student.pt'):
        if alpha is not None and not 0.0 <= alpha <= 1.0:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        self.teachers = dict(teachers or {})
        self.alpha = alpha
        self.export_name = export_name

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        device = next(model.parameters()).device
        if hasattr(model, 'train_classes'):  # e.g. RegionCLIP embeds the training categories
            model.train_classes = getattr(runner.train_dataloader.dataset, 'metainfo',
                                          {}).get('classes')
        model.attach_teachers(device, **self.teachers)
        if hasattr(model, 'check_inputs'):  # sizes the teachers cannot take: before step 1
            model.check_inputs(runner.train_dataloader.dataset)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in model.student.parameters())
        print_log(f'{model.describe()}: {trainable / 1e6:.2f}M of {total / 1e6:.2f}M student '
                  'parameters train; teachers frozen', logger='current')

    def before_train_epoch(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        if hasattr(dataset, 'set_epoch'):
            dataset.set_epoch(runner.epoch)

    def after_train(self, runner) -> None:
        if not is_main_process():
            return
        path = osp.join(runner.work_dir, self.export_name)
        unwrap(runner.model).export(path, self.alpha)
        print_log(f'exported the distilled CLIP to {path} (open_clip format'
                  f'{f", alpha {self.alpha}" if self.alpha is not None else ""}); evaluate it with '
                  f'tools/test.py CONFIG --checkpoint {path}', logger='current')


@HOOKS.register_module()
class DeCLIPDistillHook(DistillHook):
    """:class:`DistillHook` of DeCLIP: the teacher is the initial CLIP, plus a VFM.

    Args:
        vfm: ``dict(name='dinov2-B', weights='checkpoints/dinov2_vitb14_reg4_pretrain.pth')``
            (see :func:`declip_mmseg.models.backbones.build_vfm`); None for CLIPSelf-style content
            distillation only.
        alpha: blend of student and initial weights in the exported checkpoint (DeCLIP's
            scripts: 0.7 for B/16, 0.95 for L/14); None exports the student as trained.
        export_name: file name of the exported inference checkpoint in the work dir.
    """

    def __init__(self, vfm: Optional[dict] = None, alpha: Optional[float] = None,
                 export_name: str = 'declip_student.pt'):
        super().__init__(teachers=dict(vfm=vfm), alpha=alpha, export_name=export_name)
