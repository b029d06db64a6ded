"""Zero-shot evaluation through mmengine's Runner (the logic behind tools/test.py)."""
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.runner import Runner


def load_test_config(config: str, checkpoint: Optional[str] = None, work_dir: Optional[str] = None,
                     cfg_options: Optional[dict] = None, show_dir: Optional[str] = None,
                     launcher: str = 'none', class_names=None) -> Config:
    """Read a config and apply the command-line choices.

    Args:
        checkpoint: CLIP weights (open_clip tag or file) for the backbone and
            the text tower, see :func:`set_checkpoint`.
        class_names: custom vocabulary (file, list or ``'a; b'`` string).
        show_dir: save a drawing of every prediction there.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file {config!r} does not exist')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    if checkpoint is not None:
        set_checkpoint(cfg, checkpoint)
    if class_names is not None:
        cfg.model.text_classifier.class_names = class_names
    if show_dir is not None:
        cfg.default_hooks.visualization.draw = True
        cfg.visualizer.save_dir = show_dir
    if not torch.cuda.is_available():
        cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
        if launcher != 'none':  # DDP on CPU takes no device_ids
            cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                        broadcast_buffers=False)
    loader = cfg.test_dataloader
    if loader.get('num_workers', 0) == 0:
        loader.persistent_workers = False
    return cfg


def set_checkpoint(cfg: Config, checkpoint: str) -> None:
    """Point a config at other CLIP weights.

    Configs that load fine-tuned weights over a base model (``checkpoint``
    set, e.g. DeCLIP's) get the new file as ``checkpoint``; the others as
    ``pretrained``. The text classifier follows the backbone.
    """
    key = 'checkpoint' if cfg.model.backbone.get('checkpoint') else 'pretrained'
    cfg.model.backbone[key] = checkpoint
    for name in ('pretrained', 'checkpoint'):
        cfg.model.text_classifier.pop(name, None)


def check_test_dataset(dataset_cfg) -> int:
    """Fail early, naming the folder, when the test data is missing or empty.

    Returns the number of test images.
    """
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    root = dataset_cfg.get('data_root', '') or ''
    prefix = dataset_cfg.get('data_prefix', {}) or {}
    hint = ('Prepare the dataset as README.md (Data) shows, or point the config at your copy '
            'with --cfg-options test_dataloader.dataset.data_root=PATH')
    for what, rel in (('images', prefix.get('img_path')), ('labels', prefix.get('seg_map_path'))):
        path = osp.join(root, rel) if rel is not None else None
        if path is not None and not osp.isdir(path):
            raise FileNotFoundError(
                f'{what} folder {path!r} of {dataset_cfg.get("type")} does not exist. {hint}')
    ann = dataset_cfg.get('ann_file')
    if ann:
        path = ann if osp.isabs(ann) else osp.join(root, ann)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'split file {path!r} of {dataset_cfg.get("type")} does not exist; it lists the '
                f'validation images. {hint}')
    dataset = DATASETS.build(dict(dataset_cfg, lazy_init=True, pipeline=[]))
    count = len(dataset.load_data_list())
    if count == 0:
        raise RuntimeError(
            f'The test set of {dataset_cfg.get("type")} is empty: no images with suffix '
            f'{getattr(dataset, "img_suffix", "?")!r} under {osp.join(root, prefix.get("img_path", ""))!r}'
            f'{" listed in " + repr(ann) if ann else ""}. {hint}')
    return count


def init_cpu_distributed(launcher: str) -> None:
    """Join the process group with gloo when torchrun starts us on a machine without GPUs.

    mmengine's launcher always calls ``torch.cuda.set_device``, which fails
    there; once the group exists, mmengine skips its own initialisation.
    """
    if launcher == 'pytorch' and not torch.cuda.is_available() \
            and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')


def run_test(cfg: Config):
    """Build the Runner, evaluate, return ``(metrics, runner)``."""
    check_test_dataset(cfg.test_dataloader.dataset)
    init_cpu_distributed(cfg.launcher)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    return metrics, runner


def per_class_iou(runner) -> dict:
    """``{class: IoU %}`` kept by :class:`PerClassIoUMetric` (empty on other metrics)."""
    for metric in runner.test_evaluator.metrics:
        if getattr(metric, 'per_class_iou', None):
            return dict(metric.per_class_iou)
    return {}


def setup_local_rank(local_rank: int) -> None:
    """torchrun sets LOCAL_RANK; older launchers pass --local-rank instead."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))

