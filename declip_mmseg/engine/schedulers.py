"""OpenCLIP's ``cosine_lr`` (CLIPSelf, DenseVLM) as an mmengine parameter scheduler."""
import math

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmseg.registry import PARAM_SCHEDULERS


class WarmupCosineParamScheduler(_ParamScheduler):
    """Linear warm-up then cosine to 0, in closed form (OpenCLIP's ``cosine_lr``).

    At step ``i`` (counted from ``begin``) of ``T = end - begin``::

        value = base * (i + 1) / warmup                                   i < warmup
        value = base * 0.5 * (1 + cos(pi * (i - warmup) / (T - warmup)))  otherwise

    Unlike chaining ``LinearLR`` and ``CosineAnnealingLR``, the cosine starts after the
    warm-up, as in the original. ``by_epoch=True`` with ``convert_to_iter_based=True`` gives
    ``begin`` / ``end`` in epochs and steps every iteration (``warmup`` is in iterations).
    """

    def __init__(self, optimizer, param_name: str, warmup: int = 1000, begin: int = 0,
                 end: int = INF, last_step: int = -1, by_epoch: bool = True,
                 verbose: bool = False):
        if end == INF:
            raise ValueError('WarmupCosine needs a finite `end` (the length of training)')
        self.warmup = int(warmup)
        super().__init__(optimizer, param_name=param_name, begin=begin, end=end,
                         last_step=last_step, by_epoch=by_epoch, verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls, *args, begin=0, end=INF, by_epoch=True, epoch_length=None,
                              **kwargs):
        assert by_epoch and epoch_length, 'convert_to_iter_based needs the epoch length'
        end = int(end * epoch_length) if end != INF else end
        return cls(*args, begin=int(begin * epoch_length), end=end, by_epoch=False, **kwargs)

    def value_at(self, base: float, step: int) -> float:
        total = self.end - self.begin
        if step < self.warmup:
            return base * (step + 1) / self.warmup
        return 0.5 * (1 + math.cos(math.pi * (step - self.warmup)
                                   / max(1, total - self.warmup))) * base

    def _get_value(self):
        return [self.value_at(base, self.last_step) for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class WarmupCosineLR(LRSchedulerMixin, WarmupCosineParamScheduler):
    """:class:`WarmupCosineParamScheduler` of the learning rate."""
