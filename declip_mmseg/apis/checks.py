"""Checks made before the Runner starts, so that a missing dataset, a vocabulary of the wrong
size or unreachable weights fail in one line that names the file and the fix."""
import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config
from mmseg.registry import DATASETS
from mmseg.utils import register_all_modules

from ..clip import check_checkpoint_file, check_tag_available, looks_like_path, resolve_model_name
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
        if not source:
            continue
        if looks_like_path(source):
            check_checkpoint_file(source)
        else:
            check_tag_available(resolve_model_name(backbone.model_name), source)
