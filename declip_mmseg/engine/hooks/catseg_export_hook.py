"""Write the trained CAT-Seg model in the released format when training ends."""
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

from ...models.segmentors.catseg_checkpoint import save_released
from .distill_hook import unwrap


@HOOKS.register_module()
class CATSegExportHook(Hook):
    """After training, save ``{'model': <released CAT-Seg keys>}`` as ``work_dir/<export_name>``:
    the file ``model.checkpoint`` (and ``tools/test.py --checkpoint``) takes."""

    priority = 'LOWEST'

    def __init__(self, export_name: str = 'catseg_model.pth'):
        self.export_name = export_name

    def after_train(self, runner) -> None:
        if not is_main_process():
            return
        path = save_released(unwrap(runner.model), osp.join(runner.work_dir, self.export_name))
        print_log(f'CAT-Seg model written to {path} (use it as model.checkpoint)', logger='current')
