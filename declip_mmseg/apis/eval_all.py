"""Evaluate a set of configs and append the results to a spreadsheet (tools/eval_all.py)."""
import datetime
import os
import os.path as osp
import traceback
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config
from mmengine.dist import get_rank

from .test import load_test_config, per_class_iou, run_test

BENCHMARKS = ['voc21', 'context60', 'coco_object', 'voc20', 'context59', 'coco_stuff164k',
              'city_scapes', 'ade20k']
CONFIG_ROOT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs')
# Named sets of configs, in the column order of the papers' tables.
CONFIG_SETS: Dict[str, List[str]] = {
    'clearclip': [f'cfg_{name}.py' for name in BENCHMARKS],
    'declip': [f'declip/cfg_{name}.py' for name in BENCHMARKS],
    'densevlm': [f'densevlm/cfg_{name}.py' for name in BENCHMARKS],
    # region classification (DenseVLM's Table 1): COCO panoptic and ADE20K panoptic
    'densevlm_region_cls': ['densevlm_region_cls_coco.py', 'densevlm_region_cls_ade.py'],
}

RESULT_COLUMNS = ['date', 'config', 'dataset', 'backbone', 'weights', 'attn_mode', 'residual',
                  'ffn', 'attn_scale', 'aAcc', 'mIoU', 'mAcc', 'short_side', 'inference_mode',
                  'slide_crop', 'slide_stride', 'logit_scale', 'prob_thd', 'class_names',
                  'templates']
PER_CLASS_COLUMNS = ['date', 'config', 'dataset', 'weights', 'class', 'IoU']
# region-classification configs (RegionClassificationMetric) go to their own sheet; the
# accuracies follow these columns, named as the metric reports them
REGION_SHEET = 'region_classification'
REGION_COLUMNS = ['date', 'config', 'dataset', 'backbone', 'weights', 'attn_mode', 'residual',
                  'ffn', 'image_size', 'class_names', 'templates', 'text_embeddings']


def resolve_configs(configs: Optional[Sequence[str]] = None, config_set: str = 'clearclip',
                    root: str = CONFIG_ROOT) -> List[str]:
    """Config paths from explicit paths or a named set (default: the 8 ClearCLIP configs)."""
    if configs:
        return list(configs)
    if config_set not in CONFIG_SETS:
        raise ValueError(f'unknown config set {config_set!r}; known: {sorted(CONFIG_SETS)}')
    return [osp.join(root, name) for name in CONFIG_SETS[config_set]]


def short_side(cfg: Config) -> Optional[int]:
    for step in cfg.test_dataloader.dataset.get('pipeline', []):
        if step.get('type') == 'Resize' and step.get('scale'):
            return int(min(step['scale']))
    return None


def result_row(config: str, cfg: Config, metrics: dict, date: str) -> dict:
    """One spreadsheet row: what was run, with which settings, and the scores."""
    model, backbone, text = cfg.model, cfg.model.backbone, cfg.model.text_classifier
    templates = text.get('templates', 'openai_imagenet')
    return {
        'date': date, 'config': osp.relpath(config, CONFIG_ROOT) if osp.abspath(config).startswith(
            CONFIG_ROOT) else osp.basename(config), 'dataset': cfg.test_dataloader.dataset.type,
        'backbone': str(backbone.get('model_name')), 'weights': str(backbone.get('pretrained')),
        'attn_mode': backbone.get('attn_mode'), 'residual': bool(backbone.get('residual')),
        'ffn': bool(backbone.get('ffn')), 'attn_scale': backbone.get('attn_scale'),
        'aAcc': metrics.get('aAcc'), 'mIoU': metrics.get('mIoU'), 'mAcc': metrics.get('mAcc'),
        'short_side': short_side(cfg), 'inference_mode': model.get('inference_mode', 'slide'),
        'slide_crop': model.get('slide_crop'), 'slide_stride': model.get('slide_stride'),
        'logit_scale': model.get('logit_scale'), 'prob_thd': model.get('prob_thd'),
        'class_names': str(text.get('class_names')),
        'templates': templates if isinstance(templates, str) else f'{len(templates)} custom',
    }


def is_region_classification(cfg: Config) -> bool:
    return cfg.get('test_evaluator', {}).get('type') == 'RegionClassificationMetric'


def region_row(config: str, cfg: Config, metrics: dict, date: str) -> dict:
    """One row of the region-classification sheet: settings, then every accuracy."""
    backbone, text = cfg.model.backbone, cfg.model.text_classifier
    templates = text.get('templates', 'openai_imagenet')
    row = {
        'date': date, 'config': osp.relpath(config, CONFIG_ROOT) if osp.abspath(config).startswith(
            CONFIG_ROOT) else osp.basename(config), 'dataset': cfg.test_dataloader.dataset.type,
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


def append_region_results(path: str, rows: List[dict]) -> None:
    """Append to the region-classification sheet (columns: settings, then the metric keys of
    the first row written)."""
    from openpyxl import Workbook, load_workbook
    fresh = True
    if not osp.exists(path):
        book = Workbook()
        sheet = book.active
        sheet.title = REGION_SHEET
    else:
        book = load_workbook(path)
        if REGION_SHEET in book.sheetnames:
            sheet, fresh = book[REGION_SHEET], False
        else:
            sheet = book.create_sheet(REGION_SHEET)
    if fresh:
        keys = [k for k in rows[0] if k not in REGION_COLUMNS] if rows else []
        sheet.append(REGION_COLUMNS + keys)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    header = [c.value for c in sheet[1]]
    for row in rows:
        sheet.append([_cell(row.get(c)) for c in header])
    tmp = f'{path}.tmp.xlsx'
    book.save(tmp)
    os.replace(tmp, path)


def append_results(path: str, rows: List[dict], class_rows: List[dict]) -> None:
    """Append to the 'results' and 'per_class_IoU' sheets of an .xlsx (created if absent)."""
    from openpyxl import Workbook, load_workbook
    if osp.exists(path):
        try:
            book = load_workbook(path)
        except Exception as err:  # noqa: BLE001
            raise RuntimeError(f'{path!r} exists but is not a readable .xlsx workbook ({err}); '
                               'move it away or pass another --out') from err
    else:
        book = Workbook()
        book.active.title = 'results'
        book.active.append(RESULT_COLUMNS)
        book.create_sheet('per_class_IoU').append(PER_CLASS_COLUMNS)
    for sheet, columns in (('results', RESULT_COLUMNS), ('per_class_IoU', PER_CLASS_COLUMNS)):
        if sheet not in book.sheetnames:  # a workbook begun by region-classification runs
            book.create_sheet(sheet).append(columns)
    for sheet, columns, items in (('results', RESULT_COLUMNS, rows),
                                  ('per_class_IoU', PER_CLASS_COLUMNS, class_rows)):
        for item in items:
            book[sheet].append([_cell(item.get(c)) for c in columns])
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp.xlsx'
    book.save(tmp)
    os.replace(tmp, path)  # a crash while saving never corrupts earlier results


def _cell(value):
    if isinstance(value, float) and value != value:  # NaN: class absent from the set
        return None
    return value


def evaluate_all(configs: Sequence[str], out: str = 'results.xlsx', work_dir: str = './work_dirs',
                 checkpoint: Optional[str] = None, cfg_options: Optional[dict] = None,
                 launcher: str = 'none', log=print) -> List[dict]:
    """Run every config; after each run append its row; failures are reported and skipped."""
    rows, failed = [], []
    for i, config in enumerate(configs, start=1):
        name = osp.splitext(osp.basename(config))[0]
        log(f'[{i}/{len(configs)}] {name}')
        try:
            cfg = load_test_config(config, checkpoint=checkpoint, cfg_options=cfg_options,
                                   work_dir=osp.join(work_dir, name), launcher=launcher)
            metrics, runner = run_test(cfg)
        except Exception:  # noqa: BLE001 - one broken dataset must not stop the others
            failed.append(name)
            log(f'[{i}/{len(configs)}] {name} FAILED:\n{traceback.format_exc()}')
            continue
        date = datetime.datetime.now().isoformat(timespec='seconds')
        if is_region_classification(cfg):
            row = region_row(config, cfg, metrics, date)
            if get_rank() == 0:
                append_region_results(out, [row])
            rows.append(row)
            log(f'[{i}/{len(configs)}] {name}: ' + '  '.join(
                f'{k} {v}' for k, v in metrics.items()))
            continue
        row = result_row(config, cfg, metrics, date)
        classes = [dict(date=date, config=row['config'], dataset=row['dataset'],
                        weights=row['weights'], **{'class': c, 'IoU': v})
                   for c, v in per_class_iou(runner).items()]
        if get_rank() == 0:
            append_results(out, [row], classes)
        rows.append(row)
        log(f'[{i}/{len(configs)}] {name}: mIoU {row["mIoU"]}  aAcc {row["aAcc"]}  '
            f'mAcc {row["mAcc"]}')
    if failed:
        raise RuntimeError(f'{len(failed)} of {len(configs)} configs failed: {failed}; '
                           f'the others are in {out}')
    return rows
