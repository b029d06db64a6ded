"""FiniteLossHook: a diverged training run stops at its first NaN / Inf loss, before the step."""
import math
import os.path as osp

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from .distill_hook import unwrap


class TrainingDivergedError(RuntimeError):
    """A loss became NaN or Inf; the message names the terms, the iteration and the fix."""


def _value(v) -> float:
    return float(v.detach().float().mean()) if hasattr(v, 'detach') else float(v)


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Check every training loss before the optimizer step; stop at the first non-finite one.

    The model's ``parse_losses`` (mmengine's ``BaseModel``: loss dict -> total loss and the
    logged terms, called by ``train_step`` before ``optim_wrapper.update_params``) is wrapped,
    so a NaN / Inf never reaches the weights: the weights in memory and every checkpoint
    stay finite, and :meth:`DistillerBase.export` is never reached. Skipping steps is not
    offered: in distributed training a rank that skips its backward pass hangs the others.
    ``train_runtime.py`` registers it for every training config (``default_hooks.finite_loss``).
    """
    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        parse = model.parse_losses

        def checked_parse_losses(losses):
            loss, log_vars = parse(losses)
            bad = {k: _value(v) for k, v in log_vars.items() if not math.isfinite(_value(v))}
            if bad:
                raise TrainingDivergedError(self.describe(runner, bad))
            return loss, log_vars
        model.parse_losses = checked_parse_losses

    @staticmethod
    def describe(runner, bad: dict) -> str:
        terms = ', '.join(f'{k}={v}' for k, v in bad.items())
        last = osp.join(runner.work_dir, 'last_checkpoint')
        ckpt = open(last).read().strip() if osp.isfile(last) else None
        resume = (f'the last checkpoint is {ckpt}: resume from it with tools/train.py CONFIG '
                  f'--resume {ckpt}' if ckpt else 'no checkpoint was saved yet: start again')
        return (f'training diverged at epoch {runner.epoch + 1}, iteration {runner.iter + 1}: '
                f'{terms}. Stopped before this step, so no weights with NaN / Inf were saved or '
                f'exported; {resume}, with a lower learning rate (optim_wrapper.optimizer.lr) '
                'or in fp32 (optim_wrapper.type=OptimWrapper).')
