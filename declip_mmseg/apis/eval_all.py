"""Evaluate a set of configs and append the results to a spreadsheet (tools/eval_all.py)."""
import datetime
import os
import os.path as osp
import traceback
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config
from mmengine.dist import get_rank

from ..clip import check_weight_source
from ..clip.constants import CLIP_MEAN_255
from .test import load_test_config, per_class_iou, run_test
from .workbook import WorkbookError, append_results, check_output_workbook

BENCHMARKS = ['voc21', 'context60', 'coco_object', 'voc20', 'context59', 'coco_stuff164k',
              'city_scapes', 'ade20k']
CATSEG_BENCHMARKS = ['ade847', 'pc459', 'ade150', 'pc59', 'voc20', 'voc21']
CONFIG_ROOT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs')
# Named sets of configs, in the column order of the papers' tables.
CONFIG_SETS: Dict[str, List[str]] = {
    'clearclip': [f'cfg_{name}.py' for name in BENCHMARKS],
    'declip': [f'declip/cfg_{name}.py' for name in BENCHMARKS],
    'densevlm': [f'densevlm/cfg_{name}.py' for name in BENCHMARKS],
    'sclip': [f'sclip/cfg_{name}.py' for name in BENCHMARKS],
    'naclip': [f'naclip/cfg_{name}.py' for name in BENCHMARKS],
    'proxyclip': [f'proxyclip/cfg_{name}.py' for name in BENCHMARKS],
    'maskclip': [f'maskclip/cfg_{name}.py' for name in BENCHMARKS],
    'declip_proxy': [f'declip_proxy/cfg_{name}.py' for name in BENCHMARKS],
    # CAT-Seg + DeCLIP EVA02-B/16, the released checkpoint (DeCLIP's Table 4 column order)
    'catseg': [f'catseg/catseg_declip-eva02-b16_{name}.py' for name in CATSEG_BENCHMARKS],
    # region classification (DenseVLM's Table 1): COCO panoptic and ADE20K panoptic
    'densevlm_region_cls': ['densevlm/densevlm_region_cls_coco.py',
                            'densevlm/densevlm_region_cls_ade.py'],
}

def resolve_configs(configs: Optional[Sequence[str]] = None, config_set: str = 'clearclip',
                    root: str = CONFIG_ROOT) -> List[str]:
    """Config paths from explicit paths or a named set (default: the 8 ClearCLIP configs)."""
    if configs:
        return list(configs)
    if config_set not in CONFIG_SETS:
        raise ValueError(f'unknown config set {config_set!r}; known: {sorted(CONFIG_SETS)}')
    return [osp.join(root, name) for name in CONFIG_SETS[config_set]]


def resize_scale(cfg: Config) -> Optional[tuple]:
    for step in cfg.test_dataloader.dataset.get('pipeline', []):
        if step.get('type') == 'Resize' and step.get('scale'):
            return tuple(int(v) for v in step['scale'])
    return None


def short_side(cfg: Config) -> Optional[int]:
    scale = resize_scale(cfg)
    return min(scale) if scale else None


def method_name(config: str, backbone: dict) -> str:
    """The method a config runs (:func:`config_method`), or ``'<method>+proxy'`` when a proxy VFM
    was added to a config of another method."""
    method = config_method(config)
    if backbone.get('proxy') and 'proxy' not in method:
        method += '+proxy'
    return method


def config_method(config: str) -> str:
    """The method folder under configs/ a config is, or inherits (``_base_``, depth first, in
    order): a user's config that inherits ``configs/sclip/cfg_voc21.py`` runs SCLIP. Top-level
    configs and model bases name their method by file name (``_base_/models/sclip_vit_b16.py``);
    the top-level ``cfg_*.py`` are ClearCLIP's. ``'custom'`` when nothing says."""
    found = _inherited_method(osp.abspath(config), set())
    if found:
        return found
    rel = osp.relpath(osp.abspath(config), CONFIG_ROOT)
    return 'clearclip' if osp.dirname(rel) == '' else 'custom'


def _method_folders() -> set:
    return {d for d in os.listdir(CONFIG_ROOT) if osp.isdir(osp.join(CONFIG_ROOT, d))
            and not d.startswith(('_', '.')) and d != 'class_names'}


def _inherited_method(path: str, seen: set) -> Optional[str]:
    if path in seen or not osp.isfile(path):
        return None
    seen.add(path)
    rel = osp.relpath(path, CONFIG_ROOT).replace(os.sep, '/')
    methods = _method_folders()
    if not rel.startswith('..'):
        top = rel.split('/')[0]
        if top in methods:
            return top
        if rel.startswith('_base_/models/'):
            stem = osp.basename(rel).split('_')[0]
            return stem if stem in methods or stem == 'clearclip' else None
    try:
        bases = Config._get_base_files(path)
    except Exception:  # noqa: BLE001 - a broken file is reported when it is loaded
        return None
    for base in bases:
        if isinstance(base, str) and '::' not in base:
            found = _inherited_method(osp.abspath(osp.join(osp.dirname(path), base)), seen)
            if found:
                return found
    return None


def describe_postprocess(steps) -> str:
    """Post-processing steps as text, e.g. ``'PAMR(num_iter=10, dilations=(8, 16))'``; 'none'."""
    parts = []
    for step in steps or []:
        args = ', '.join(f'{k}={tuple(v) if isinstance(v, list) else v}'
                         for k, v in step.items() if k != 'type')
        parts.append(f"{step['type']}({args})")
    return ' + '.join(parts) or 'none'


def describe_proxy(proxy) -> Optional[str]:
    if not proxy:
        return None
    return (f"{proxy.get('vfm')} beta={proxy.get('beta', 1.2)} gamma={proxy.get('gamma', 3.0)} "
            f"({proxy.get('weights')})")


def describe_normalization(model) -> str:
    pre = model.get('data_preprocessor') or {}
    mean = pre.get('mean')
    return 'clip' if mean is None or list(mean) == list(CLIP_MEAN_255) else f'mean={list(mean)}'


def result_row(config: str, cfg: Config, metrics: dict, date: str) -> dict:
    """One spreadsheet row: what was run, with which settings, and the scores."""
    model, backbone, text = cfg.model, cfg.model.backbone, cfg.model.text_classifier
    templates = text.get('templates', 'openai_imagenet')
    scale = resize_scale(cfg)
    return {
        'date': date, 'config': config_name(config), 'method': method_name(config, backbone),
        'dataset': cfg.test_dataloader.dataset.type,
        'backbone': str(backbone.get('model_name')),
        'weights': str(model.get('checkpoint') or backbone.get('pretrained')),  # CAT-Seg: its file
        'attn_mode': backbone.get('attn_mode'), 'residual': bool(backbone.get('residual')),
        'ffn': bool(backbone.get('ffn')), 'attn_scale': backbone.get('attn_scale'),
        'proxy': describe_proxy(backbone.get('proxy')),
        'aAcc': metrics.get('aAcc'), 'mIoU': metrics.get('mIoU'), 'mAcc': metrics.get('mAcc'),
        'short_side': short_side(cfg), 'resize_scale': str(scale) if scale else None,
        'inference_mode': model.get('inference_mode', 'slide'),
        'slide_crop': model.get('slide_crop'), 'slide_stride': model.get('slide_stride'),
        'patch_fit': model.get('patch_fit', 'pad'),
        'logit_scale': model.get('logit_scale'), 'prob_thd': model.get('prob_thd'),
        'postprocess': describe_postprocess(model.get('postprocess')),
        'normalization': describe_normalization(model),
        'amp_dtype': model.get('amp_dtype', 'float16'),
        'class_names': describe_class_names(text.get('class_names')),
        'templates': templates if isinstance(templates, str) else f'{len(templates)} custom',
    }


def describe_class_names(class_names) -> str:
    """A class-name file or inline string as is; a list of class lines (CAT-Seg) by its size."""
    if isinstance(class_names, (list, tuple)):
        return f'{len(class_names)} class lines ({class_names[0]!r}, ...)'
    return str(class_names)


def config_name(config: str) -> str:
    """The row key of a config: its path relative to configs/ (``'declip/cfg_voc21.py'``), else
    relative to the working directory, else absolute; two configs of the same file name in two
    folders get two keys (and two work dirs)."""
    path = osp.abspath(config)
    for root in (CONFIG_ROOT, os.getcwd()):
        rel = osp.relpath(path, root)
        if not rel.startswith('..'):
            return rel.replace(os.sep, '/')
    return path


def is_region_classification(cfg: Config) -> bool:
    return cfg.get('test_evaluator', {}).get('type') == 'RegionClassificationMetric'


def region_row(config: str, cfg: Config, metrics: dict, date: str) -> dict:
    """One row of the region-classification sheet: settings, then every accuracy."""
    backbone, text = cfg.model.backbone, cfg.model.text_classifier
    templates = text.get('templates', 'openai_imagenet')
    row = {
        'date': date, 'config': config_name(config), 'dataset': cfg.test_dataloader.dataset.type,
        'backbone': str(backbone.get('model_name')),
        'weights': str(backbone.get('checkpoint') or backbone.get('pretrained')),
        'attn_mode': backbone.get('attn_mode'), 'residual': bool(backbone.get('residual')),
        'ffn': bool(backbone.get('ffn')),
        'image_size': cfg.test_dataloader.dataset.get('image_size'),
        'class_names': str(text.get('class_names')),
        'templates': templates if isinstance(templates, str) else f'{len(templates)} custom',
        'text_embeddings': text.get('embeddings_file')}
    row.update(metrics)
    return row


def load_all(configs: Sequence[str], work_dir: str, **options) -> List[tuple]:
    """Every config read (with the command line's options) before the first evaluation:
    ``[(config, cfg)]``. A missing or broken config stops the run at once, naming all of them,
    instead of failing hours later. Each work dir is ``<work_dir>/<row key without .py>``."""
    loaded, errors = [], []
    for config in configs:
        key = osp.splitext(config_name(config))[0].lstrip('/')
        try:
            loaded.append((config, load_test_config(config, work_dir=osp.join(work_dir, key),
                                                    **options)))
        except Exception as err:  # noqa: BLE001 - all of them are reported together
            errors.append(f'{config!r}: {type(err).__name__}: {str(err).strip()}')
    if errors:
        raise ConfigError(f'{len(errors)} of {len(configs)} configs cannot be read, nothing was '
                          'evaluated:\n  ' + '\n  '.join(errors)
                          + '\nFix the paths (or the files) and run again.')
    return loaded


class ConfigError(ValueError):
    """A config given to eval_all cannot be read (reported before any evaluation)."""


def evaluate_all(configs: Sequence[str], out: str = 'results.xlsx', work_dir: str = './work_dirs',
                 checkpoint: Optional[str] = None, cfg_options: Optional[dict] = None,
                 launcher: str = 'none', log=print) -> List[dict]:
    """Run every config; after each run append its row; failures are reported and skipped.

    Every config is read first (:func:`load_all`): a typo'd path stops the run before any work.

    ``out`` is checked before any evaluation. If appending to it fails later (another
    program broke it, the disk is full), the finished rows are kept in a workbook in
    ``work_dir`` and the error says where.
    """
    check_output_workbook(out)
    if checkpoint is not None:  # an empty --checkpoint would fail every config, one by one
        check_weight_source(checkpoint, '--checkpoint')
    loaded = load_all(configs, work_dir, checkpoint=checkpoint, cfg_options=cfg_options,
                      launcher=launcher)
    rows, failed, unsaved = [], [], []
    stamp = datetime.datetime.now().strftime('%Y%m%d_%H%M%S')
    kept = osp.join(work_dir, f'unsaved_results_{stamp}_{os.getpid()}.xlsx')
    for i, (config, cfg) in enumerate(loaded, start=1):
        name = osp.splitext(config_name(config))[0]
        log(f'[{i}/{len(configs)}] {name}')
        try:
            metrics, runner = run_test(cfg)
        except Exception:  # noqa: BLE001 - one broken dataset must not stop the others
            failed.append(name)
            log(f'[{i}/{len(configs)}] {name} FAILED:\n{traceback.format_exc()}')
            continue
        date = datetime.datetime.now().isoformat(timespec='seconds')
        if is_region_classification(cfg):
            row = region_row(config, cfg, metrics, date)
            sheets = dict(rows=[], class_rows=[], region_rows=[row])
        else:
            row = result_row(config, cfg, metrics, date)
            classes = [dict(date=date, config=row['config'], dataset=row['dataset'],
                            weights=row['weights'], **{'class': c, 'IoU': v})
                       for c, v in per_class_iou(runner).items()]
            sheets = dict(rows=[row], class_rows=classes)
        if get_rank() == 0:
            try:
                append_results(out, **sheets, log=log)
            except Exception as err:  # noqa: BLE001 - finished results must survive
                append_results(kept, **sheets, log=log)
                unsaved.append(name)
                log(f'[{i}/{len(configs)}] {name}: could not append to {out!r} ({err}); '
                    f'this result is kept in {kept!r}')
        rows.append(row)
        scores = (['mIoU', 'aAcc', 'mAcc'] if 'mIoU' in metrics else list(metrics))
        log(f'[{i}/{len(configs)}] {name}: ' + '  '.join(f'{k} {metrics.get(k)}' for k in scores))
    if unsaved:
        raise WorkbookError(
            f'the results of {unsaved} could not be appended to {out!r}; they are kept in '
            f'{kept!r}. Fix {out!r} (see the message above) and copy them over.')
    if failed:
        raise RuntimeError(f'{len(failed)} of {len(configs)} configs failed: {failed}; '
                           f'the others are in {out}')
    return rows
