"""Training through mmengine's Runner (the logic behind tools/train.py)."""
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from .config import adapt_to_machine, init_cpu_distributed, load_config
from .resume import check_resume
from .shared_memory import check_shared_memory


def allow_resuming_own_checkpoints() -> None:
    """Let mmengine 0.10.7 read its own checkpoints under torch >= 2.6.

    torch.load now defaults to ``weights_only=True``, which rejects the message hub and
    optimizer state mmengine stores, so ``--resume`` fails. Local files are read with full
    unpickling instead: only do this for checkpoints your own runs wrote.
    """
    from mmengine.runner.checkpoint import CheckpointLoader

    @CheckpointLoader.register_scheme(prefixes='', force=True)
    def load_local_checkpoint(filename, map_location=None):
        filename = osp.expanduser(filename)
        if not osp.isfile(filename):
            raise FileNotFoundError(f'checkpoint {filename!r} does not exist')
        try:
            return torch.load(filename, map_location=map_location, weights_only=False)
        except Exception as err:  # noqa: BLE001
            raise RuntimeError(f'cannot read checkpoint {filename!r} ({err}); it is corrupt or '
                               'was cut off while being written: delete it and resume from '
                               'the previous one') from err


def load_train_config(config: str, work_dir: Optional[str] = None,
                      resume: Union[bool, str] = False, cfg_options: Optional[dict] = None,
                      launcher: str = 'none') -> Config:
    """Read a training config and apply the command-line choices.

    Args:
        resume: True resumes from the newest checkpoint in the work dir, a path from
            that checkpoint.
    On machines without CUDA, AMP is switched off (fp32) and distributed runs use gloo.
    """
    cfg = load_config(config, work_dir, cfg_options, launcher)
    if resume:
        cfg.resume = True
        cfg.load_from = resume if isinstance(resume, str) else None
    if not torch.cuda.is_available():
        wrapper = cfg.optim_wrapper
        if wrapper.get('type') == 'AmpOptimWrapper':
            wrapper.type = 'OptimWrapper'
            for key in ('dtype', 'loss_scale'):
                wrapper.pop(key, None)
    return adapt_to_machine(cfg)


def run_train(cfg: Config) -> Runner:
    """Check a resume, build the Runner, check the loader's shared memory, train; returns the
    runner."""
    check_resume(cfg)
    allow_resuming_own_checkpoints()
    init_cpu_distributed(cfg.launcher)
    runner = Runner.from_cfg(cfg)
    check_shared_memory(runner.train_dataloader)
    runner.train()
    return runner
