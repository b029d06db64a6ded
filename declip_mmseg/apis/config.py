"""Config loading shared by the tools: file check, overrides, work dir, weights, this machine."""
import difflib
import inspect
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config

from ..clip import check_weight_source
from .checks import ConfigValueError, check_config_values

# Training and region-classification configs that moved from configs/ into their method's folder
# (same file names, so work dirs and exported files keep their names).
MOVED_CONFIGS = {name: f'configs/{folder}/{name}' for folder, names in (
    ('declip', ('declip_distill_coco_release.py', 'declip_distill_folder.py',
                'declip_region_cls_coco.py')),
    ('densevlm', ('densevlm_coco.py', 'densevlm_folder.py', 'densevlm_region_cls_coco.py',
                  'densevlm_region_cls_ade.py')),
    ('clipself', ('clipself_coco.py',)),
    ('regionclip', ('regionclip_coco.py',)),
) for name in names}


def load_config(config: str, work_dir: Optional[str] = None,
                cfg_options: Optional[dict] = None, launcher: str = 'none') -> Config:
    """Read ``config``, apply ``--cfg-options``, set the launcher and the work dir
    (default ``./work_dirs/<config name>``)."""
    if not osp.isfile(config):
        moved = MOVED_CONFIGS.get(osp.basename(config))
        if moved and not osp.normpath(config).endswith(osp.normpath(moved)):
            raise FileNotFoundError(f'config file {config!r} does not exist: it moved to {moved!r}')
        raise FileNotFoundError(f'config file {config!r} does not exist')
    cfg = Config.fromfile(config)
    if cfg_options:
        check_option_keys(cfg, cfg_options, config)
        cfg.merge_from_dict(cfg_options)
    check_config_values(cfg)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    return cfg


def check_option_keys(cfg: Config, cfg_options: dict, config: str) -> None:
    """Refuse a ``--cfg-options`` key whose top-level name is neither in the config nor one the
    Runner reads (a typo would otherwise be added silently and ignored), suggesting the
    closest existing key (difflib)."""
    from mmengine.runner import Runner
    known = set(cfg.keys()) | set(inspect.signature(Runner.__init__).parameters) - {'self'}
    for key in cfg_options:
        top = key.split('.')[0]
        if top in known:
            continue
        close = difflib.get_close_matches(top, sorted(known), n=1, cutoff=0.6)
        fix = (f"did you mean {close[0]!r} ({close[0] + key[len(top):]}=...)?" if close else
               f"its top-level keys are {sorted(cfg.keys())}")
        raise ConfigValueError(f'--cfg-options {key}: {config!r} has no top-level key {top!r}, '
                               f'so the value would be ignored; {fix}')


def adapt_to_machine(cfg: Config) -> Config:
    """Without CUDA: gloo for distributed runs and DDP without device ids. Data loaders with
    no workers cannot keep them persistent."""
    if not torch.cuda.is_available():
        cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
        if cfg.launcher != 'none':
            cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                         broadcast_buffers=False)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if loader and loader.get('num_workers', 0) == 0:
            loader.persistent_workers = False
    return cfg


def init_cpu_distributed(launcher: str) -> None:
    """Join the process group with gloo when torchrun starts us on a machine without GPUs.

    mmengine's launcher always calls ``torch.cuda.set_device``, which fails there; once the
    group exists, mmengine skips its own initialisation.
    """
    if launcher == 'pytorch' and not torch.cuda.is_available() \
            and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')


def finish_distributed() -> None:
    """Leave the process group cleanly (ranks that exit with a live gloo group can abort)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def set_checkpoint(cfg: Config, checkpoint: str) -> None:
    """Point a config at other CLIP weights.

    Configs that load fine-tuned weights over a base model (``checkpoint``
    set, e.g. DeCLIP's) get the new file as ``checkpoint``; the others as
    ``pretrained``. The text classifier follows the backbone. A CAT-Seg config (a top-level
    ``model.checkpoint``) takes the file as its released CAT-Seg checkpoint. An empty or blank
    ``checkpoint`` (``--checkpoint "$UNSET"``) is an error.
    """
    check_weight_source(checkpoint, '--checkpoint')
    if 'checkpoint' in cfg.model:
        cfg.model.checkpoint = checkpoint
        return
    key = 'checkpoint' if cfg.model.backbone.get('checkpoint') else 'pretrained'
    cfg.model.backbone[key] = checkpoint
    for name in ('pretrained', 'checkpoint'):
        cfg.model.text_classifier.pop(name, None)


def setup_local_rank(local_rank: int) -> None:
    """torchrun sets LOCAL_RANK; older launchers pass --local-rank instead."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))
