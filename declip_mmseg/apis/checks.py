"""Checks made before the Runner starts, so that a missing dataset, a vocabulary of the wrong
size or unreachable weights fail in one line that names the file and the fix."""
import os
import os.path as osp
import re
from typing import Optional, Sequence

from mmengine.config import Config
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS
from mmseg.utils import register_all_modules

from ..clip import (
    check_checkpoint_file,
    check_tag_available,
    check_weight_source,
    looks_like_path,
    resolve_model_name,
)
from ..datasets.split_files import check_split_file
from ..text import load_vocabulary

DATA_HINT = ('Prepare the dataset as README.md (Data) shows, or point the config at your copy '
             'with --cfg-options test_dataloader.dataset.data_root=PATH')


def _lazy_dataset(dataset_cfg):
    """The dataset object without its file list (cheap): metainfo, prefixes, suffixes."""
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
    if isinstance(dataset, BaseSegDataset) and dataset.ann_file and osp.isfile(dataset.ann_file):
        check_split_file(dataset.ann_file, dataset_cfg.get('type'))  # mmseg reads it line by line
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
    merged = cfg.model.get('merge_labels_from')  # CAT-Seg VOC21: extra names become one label
    if merged is not None and merged == len(classes) - 1 and vocab.num_classes > merged:
        return
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
    if cfg.model.get('checkpoint'):  # CAT-Seg's released file: the only weights read
        check_checkpoint_file(cfg.model.checkpoint)
        return
    backbone = cfg.model.get('backbone', {})
    if 'model_name' not in backbone:
        return
    for key in ('pretrained', 'checkpoint'):
        source = backbone.get(key)
        check_weight_source(source, f'model.backbone.{key}')
        if not source:
            continue
        if looks_like_path(source):
            check_checkpoint_file(source)
        else:
            check_tag_available(resolve_model_name(backbone.model_name), source)


# -- values: one check of a config's numbers, shared by every entry point -------------------
class ConfigValueError(ValueError):
    """A config value outside its meaning; the message names the key, the value and the fix."""


def _number(key: str, value, integer: bool):
    """``value`` as a number, or an error that says why it is not one (text, decimal comma)."""
    if isinstance(value, bool):
        raise ConfigValueError(f'{key}={value!r}: expected a number, got a boolean')
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, int) for v in value):  # --cfg-options key=0,5 arrives as [0, 5]
        raise ConfigValueError(f'{key}={",".join(map(str, value))}: a decimal comma? Write '
                               f'{key}={value[0]}.{value[1]} (a decimal point)')
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r'-?\d+,\d+', text):
            raise ConfigValueError(f'{key}={value!r}: a decimal comma? Write '
                                   f'{key}={text.replace(",", ".")} (a decimal point, no quotes)')
        raise ConfigValueError(f'{key}={value!r}: expected a number, got text; write it without '
                               'quotes' + (' and with a decimal point' if ',' in text else ''))
    if not isinstance(value, (int, float)):
        raise ConfigValueError(f'{key}={value!r}: expected a number')
    if integer and float(value) != int(value):
        raise ConfigValueError(f'{key}={value!r}: expected a whole number')
    if value != value or value in (float('inf'), float('-inf')):
        raise ConfigValueError(f'{key}={value!r}: expected a finite number')
    return value


def _fraction(key, value):
    value = _number(key, value, integer=False)
    if 1 < value <= 100:
        raise ConfigValueError(f'{key}={value!r}: a fraction in [0, 1] is expected, this looks '
                               f'like a percentage; write {key}={value / 100:g}')
    if not 0 <= value <= 1:
        raise ConfigValueError(f'{key}={value!r}: must be in [0, 1]')


def _positive(key, value):
    if _number(key, value, integer=False) <= 0:
        raise ConfigValueError(f'{key}={value!r}: must be > 0')


def _count(key, value):
    if _number(key, value, integer=True) < 1:
        raise ConfigValueError(f'{key}={value!r}: must be a whole number >= 1')


def _non_negative_count(key, value):
    if _number(key, value, integer=True) < 0:
        raise ConfigValueError(f'{key}={value!r}: must be a whole number >= 0')


def _window(key, value):
    for v in value if isinstance(value, (list, tuple)) else [value]:  # int or (h, w)
        _count(key, v)


def _weight_source(key, value):
    check_weight_source(value, key)


_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
# key path ('*' = every item of a list) -> rule(key, value); checked when present
VALUE_RULES = {
    'model.prob_thd': _fraction,
    'model.logit_scale': _positive,
    'model.slide_crop': _window,
    'model.slide_stride': _window,
    'model.window_batch_size': _count,
    'model.postprocess.*.area_thd': _fraction,
    'model.postprocess.*.num_iter': _count,
    'model.backbone.attn_scale': _positive,
    'custom_hooks.*.alpha': _fraction,
    'train_cfg.max_epochs': _count,
    'train_cfg.max_iters': _count,
    'train_cfg.val_interval': _count,
    'optim_wrapper.optimizer.lr': _positive,
    **{f'model.{part}.{key}': _weight_source for part in ('backbone', 'student', 'text_classifier')
       for key in ('pretrained', 'checkpoint')},
    **{f'{loader}.batch_size': _count for loader in _LOADERS},
    **{f'{loader}.num_workers': _non_negative_count for loader in _LOADERS},
    **{f'{loader}.dataset.times': _count for loader in _LOADERS},  # RepeatDataset
}


def _values_at(node, parts, prefix=''):
    """``(key path, value)`` of every value at ``parts`` under ``node`` (dicts and lists)."""
    if not parts:
        yield prefix, node
        return
    head, rest = parts[0], parts[1:]
    if head == '*':
        if isinstance(node, (list, tuple)):
            for i, item in enumerate(node):
                yield from _values_at(item, rest, f'{prefix}[{i}]')
    elif isinstance(node, dict) and node.get(head) is not None:
        yield from _values_at(node[head], rest, f'{prefix}.{head}' if prefix else head)


def check_config_values(cfg) -> None:
    """Refuse values outside their meaning before any work, naming key, value and fix:
    fractions (``prob_thd``, ``area_thd``, ``alpha``) in [0, 1] (not percent), positive
    scales, windows and counts, no empty weight source, ``slide_stride <= slide_crop``,
    numbers given as text or with a decimal comma. Called by :func:`load_config` (every
    tool) and the inferencer (the web page); see :data:`VALUE_RULES`."""
    root = cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else cfg
    for path, rule in VALUE_RULES.items():
        for key, value in _values_at(root, path.split('.')):
            rule(key, value)
    check_window(cfg.get('model', {}).get('slide_crop'), cfg.get('model', {}).get('slide_stride'),
                 'model.slide_crop', 'model.slide_stride')


def check_window(crop, stride, crop_key: str = '--crop', stride_key: str = '--stride') -> None:
    """Sliding windows: a stride larger than the window would skip pixels."""
    if crop is None or stride is None:
        return
    crops = crop if isinstance(crop, (list, tuple)) else (crop, crop)
    strides = stride if isinstance(stride, (list, tuple)) else (stride, stride)
    if any(s > c for s, c in zip(strides, crops)):
        raise ConfigValueError(f'{stride_key}={stride!r} is larger than {crop_key}={crop!r}: '
                               'the windows would leave gaps; use a stride <= the window '
                               f'(e.g. {stride_key}={min(crops) // 2})')


def check_value(key: str, value, rule: str) -> None:
    """One command-line value: ``rule`` is 'fraction', 'positive', 'count' or
    'non_negative_count' (the rules of :data:`VALUE_RULES`)."""
    _RULES[rule](key, value)


_RULES = dict(fraction=_fraction, positive=_positive, count=_count,
              non_negative_count=_non_negative_count)
