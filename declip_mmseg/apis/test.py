"""Zero-shot evaluation through mmengine's Runner (the logic behind tools/test.py)."""
import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.runner import Runner

from .config import adapt_to_machine, init_cpu_distributed, load_config


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
        cfg.visualizer.save_dir = show_dir
    return adapt_to_machine(cfg)


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


DATA_HINT = ('Prepare the dataset as README.md (Data) shows, or point the config at your copy '
             'with --cfg-options test_dataloader.dataset.data_root=PATH')


def _lazy_dataset(dataset_cfg):
    """The dataset object without its file list (cheap): metainfo, prefixes, suffixes."""
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return DATASETS.build(dict(dataset_cfg, lazy_init=True, pipeline=[]))


def check_test_dataset(dataset_cfg) -> int:
    """Fail early, naming the folder or files, when the test data is missing or empty.

    Every image and label map the dataset lists must exist (existence only, so
    this is cheap); all missing ones are named at once. Returns the number of
    test images.
    """
    return len(checked_dataset(dataset_cfg)[1])


def checked_dataset(dataset_cfg):
    """:func:`check_test_dataset`'s checks; returns ``(dataset, data list)`` (the dataset's
    metainfo as loading the list left it: some datasets read their classes from it)."""
    root = dataset_cfg.get('data_root', '') or ''
    prefix = dataset_cfg.get('data_prefix', {}) or {}
    hint = DATA_HINT
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
                f'annotation file {path!r} of {dataset_cfg.get("type")} does not exist; it '
                f'lists the test images. {hint}')
    dataset = _lazy_dataset(dataset_cfg)
    data_list = dataset.load_data_list()
    count = len(data_list)
    if count == 0:
        raise RuntimeError(
            f'The test set of {dataset_cfg.get("type")} is empty: no images with suffix '
            f'{getattr(dataset, "img_suffix", "?")!r} under {osp.join(root, prefix.get("img_path", ""))!r}'
            f'{" listed in " + repr(ann) if ann else ""}. {hint}')
    check_listed_files(data_list, dataset_cfg.get('type'), ann)
    return dataset, data_list


def check_listed_files(data_list, dataset_type: str, ann_file: Optional[str] = None) -> None:
    """Raise naming every listed image / label map that is not on disk."""
    missing = {'image': [], 'label map': []}
    for info in data_list:
        for what, key in (('image', 'img_path'), ('label map', 'seg_map_path')):
            path = info.get(key)
            if path and not osp.isfile(path):
                missing[what].append(path)
    if not any(missing.values()):
        return
    source = f' listed in {ann_file!r}' if ann_file else ''
    parts = []
    for what, paths in missing.items():
        if not paths:
            continue
        folder = osp.dirname(paths[0])
        if len(paths) == len(data_list):
            parts.append(f'none of the {len(paths)} {what}s{source} exists (e.g. {paths[0]!r}; '
                          f'folder {folder!r} holds {_count_files(folder)} files)')
        else:
            parts.append(f'{len(paths)} of {len(data_list)} {what}s{source} are missing: '
                         + ', '.join(repr(p) for p in paths))
    raise FileNotFoundError(f'{dataset_type}: ' + '; '.join(parts) + f'. {DATA_HINT}')


def _count_files(folder: str) -> int:
    return len(os.listdir(folder)) if osp.isdir(folder) else 0


def check_vocabulary(cfg: Config, classes: Optional[Sequence[str]] = None) -> None:
    """Refuse a vocabulary whose class count differs from the test set's.

    mIoU compares predicted class ``i`` with label ``i``; with another number of
    classes the score is meaningless (and silently so).
    """
    from ..text import load_vocabulary
    text_cfg = cfg.model.get('text_classifier', {})
    spec = text_cfg.get('class_names')
    if spec is None or not cfg.get('test_dataloader'):
        return
    dataset_cfg = cfg.test_dataloader.dataset
    if classes is None:
        classes = _lazy_dataset(dataset_cfg).metainfo.get('classes')
    if classes is None:
        return
    vocab = load_vocabulary(spec, allow_duplicates=text_cfg.get('allow_duplicate_names', False),
                            split_synonyms=text_cfg.get('split_synonyms', True))
    if vocab.num_classes != len(classes):
        shown = spec if isinstance(spec, str) else f'{vocab.num_classes} lines'
        raise ValueError(
            f'the vocabulary {shown!r} has {vocab.num_classes} classes, but the test set '
            f'({dataset_cfg.get("type")}) has {len(classes)} (labels 0-{len(classes) - 1}: '
            f'{", ".join(map(str, classes[:4]))}, ...). mIoU compares predicted class i with '
            f'label i, so the vocabulary must name the dataset\'s {len(classes)} classes in label '
            'order (synonyms on the same line). To segment with a free vocabulary, use '
            'tools/demo.py.')


def check_weights(cfg: Config) -> None:
    """Before the Runner starts: weight files exist and are not empty, tagged weights are
    cached or downloadable (one-line :class:`WeightsUnavailableError` when offline)."""
    from ..models.clip_loader import (
        check_checkpoint_file,
        check_tag_available,
        looks_like_path,
        resolve_model_name,
    )
    backbone = cfg.model.get('backbone', {})
    if 'model_name' not in backbone:
        return
    for key in ('pretrained', 'checkpoint'):
        source = backbone.get(key)
        if not source:
            continue
        if looks_like_path(source):
            check_checkpoint_file(source)
        else:
            check_tag_available(resolve_model_name(backbone.model_name), source)


def run_test(cfg: Config):
    """Check the vocabulary and the data, build the Runner, evaluate, return ``(metrics, runner)``."""
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


def setup_local_rank(local_rank: int) -> None:
    """torchrun sets LOCAL_RANK; older launchers pass --local-rank instead."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))

