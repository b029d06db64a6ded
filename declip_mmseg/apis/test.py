"""Zero-shot evaluation through mmengine's Runner (the logic behind tools/test.py)."""
from typing import Optional

from mmengine.config import Config
from mmengine.runner import Runner

from ..fileio import check_output_folder
from .checks import check_vocabulary, check_weights, checked_dataset
from .config import adapt_to_machine, init_cpu_distributed, load_config, set_checkpoint


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
    cfg = load_config(config, work_dir, cfg_options, launcher)
    if checkpoint is not None:
        set_checkpoint(cfg, checkpoint)
    if class_names is not None:
        cfg.model.text_classifier.class_names = class_names
    if show_dir is not None:
        if 'visualization' not in cfg.get('default_hooks', {}):
            raise ValueError(f'--show-dir needs a visualization hook; {config!r} has none '
                             '(it draws segmentation maps only)')
        cfg.default_hooks.visualization.draw = True
        cfg.visualizer.save_dir = check_output_folder(show_dir, '--show-dir')
    return adapt_to_machine(cfg)


def run_test(cfg: Config):
    """Check the vocabulary and the data, build the Runner, evaluate, return ``(metrics, runner)``."""
    check_output_folder(cfg.work_dir, '--work-dir')
    check_weights(cfg)
    dataset, _ = checked_dataset(cfg.test_dataloader.dataset)
    check_vocabulary(cfg, dataset.metainfo.get('classes'))
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
