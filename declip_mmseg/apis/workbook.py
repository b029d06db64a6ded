"""The results workbook of tools/eval_all.py: sheets and columns, checks before any run, appends
serialised by a lock file and written atomically (earlier results are never lost)."""
import os
import os.path as osp
from typing import List, Sequence

from filelock import FileLock
from openpyxl import Workbook, load_workbook

from ..fileio import OutputPathError, check_output_file, safe_write

RESULT_COLUMNS = ['date', 'config', 'dataset', 'method', 'backbone', 'weights', 'attn_mode',
                  'residual', 'ffn', 'attn_scale', 'proxy', 'aAcc', 'mIoU', 'mAcc', 'short_side',
                  'resize_scale', 'inference_mode', 'slide_crop', 'slide_stride', 'patch_fit',
                  'logit_scale', 'prob_thd', 'postprocess', 'normalization', 'amp_dtype',
                  'class_names', 'templates']
PER_CLASS_COLUMNS = ['date', 'config', 'dataset', 'weights', 'class', 'IoU']
# region-classification configs (RegionClassificationMetric) go to their own sheet; the
# accuracies follow these columns, named as the metric reports them
REGION_SHEET = 'region_classification'
REGION_COLUMNS = ['date', 'config', 'dataset', 'backbone', 'weights', 'attn_mode', 'residual',
                  'ffn', 'image_size', 'class_names', 'templates', 'text_embeddings']

WORKBOOK_SUFFIXES = ('.xlsx', '.xlsm')


class WorkbookError(RuntimeError):
    """The results workbook cannot be read or written; it is never overwritten."""


def _new_book():
    book = Workbook()
    book.active.title = 'results'
    book.active.append(RESULT_COLUMNS)
    book.create_sheet('per_class_IoU').append(PER_CLASS_COLUMNS)
    return book


def _read_book(path: str):
    try:
        return load_workbook(path)
    except Exception as err:  # noqa: BLE001
        raise WorkbookError(
            f'{path!r} exists but is not a readable .xlsx workbook ({type(err).__name__}: '
            f'{err}); it was left untouched. Move it away (or restore it) or pass another '
            '--out') from err


def check_output_workbook(path: str) -> None:
    """Before any evaluation: ``path`` must be an .xlsx that can be read (if it exists) and
    written (its folder too, for the atomic replace)."""
    try:  # a file name ending in .xlsx, not a folder, in a folder that accepts files
        check_output_file(path, WORKBOOK_SUFFIXES, '--out')
    except OutputPathError as err:
        raise WorkbookError(f'{err} (an Excel workbook)') from err
    if osp.exists(path):
        if not os.access(path, os.R_OK | os.W_OK):
            raise WorkbookError(f'--out {path!r} exists but is not readable and writable by '
                                'this user; fix its permissions or pass another --out')
        _read_book(path)


def append_results(path: str, rows: List[dict], class_rows: List[dict],
                   region_rows: Sequence[dict] = (), timeout: float = 600) -> None:
    """Append to the 'results', 'per_class_IoU' and 'region_classification' sheets of an
    .xlsx (created if absent; the region sheet's columns are its settings, then the metric
    keys of the first row it receives).

    Safe for concurrent runs: appends are serialised by a lock file (``<path>.lock``) and
    written atomically (unique temporary file in the same folder, fsync, ``os.replace``). An
    existing workbook that cannot be read raises :class:`WorkbookError` and is never
    overwritten.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with FileLock(f'{osp.abspath(path)}.lock', timeout=timeout):
        book = _read_book(path) if osp.exists(path) else _new_book()
        for sheet, columns in (('results', RESULT_COLUMNS), ('per_class_IoU', PER_CLASS_COLUMNS)):
            if sheet not in book.sheetnames:
                book.create_sheet(sheet).append(columns)
        for sheet, columns, items in (('results', RESULT_COLUMNS, rows),
                                      ('per_class_IoU', PER_CLASS_COLUMNS, class_rows)):
            for item in items:
                book[sheet].append([_cell(item.get(c)) for c in columns])
        if region_rows:
            if REGION_SHEET not in book.sheetnames:
                keys = [k for k in region_rows[0] if k not in REGION_COLUMNS]
                book.create_sheet(REGION_SHEET).append(REGION_COLUMNS + keys)
            sheet = book[REGION_SHEET]
            header = [c.value for c in sheet[1]]
            for item in region_rows:
                sheet.append([_cell(item.get(c)) for c in header])
        _save_atomic(book, path)


def _save_atomic(book, path: str) -> None:
    """Through :func:`safe_write`: a crash or a full disk while saving never corrupts earlier
    results, and a group-shared workbook keeps its mode."""
    with safe_write(path) as tmp:
        book.save(tmp)


def _cell(value):
    if isinstance(value, float) and value != value:  # NaN: class absent from the set
        return None
    return value
