"""DenseVLM's region classification on ADE20K and COCO through tools/test.py and tools/eval_all.py."""
import os.path as osp
import re

import numpy as np
import pytest

from declip_mmseg.testing.synthetic_data import COCO_PANOPTIC_NAMES as NAMES
from declip_mmseg.testing.synthetic_data import make_coco_panoptic
from declip_mmseg.testing.tools import REPO

DV_KEYS = [f'{m}.{kind}.macc{k}' for m in ('rois', 'maskpool') for kind in ('thing', 'stuff')
           for k in (1, 5)]


@pytest.fixture(scope='module')
def ade_embeddings(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('emb') / 'ade_panoptic.npy')
    np.save(path, np.random.default_rng(0).normal(size=(150, 32)).astype(np.float32))
    return path


def test_tools_test_ade_and_coco(tiny_eva, ade_root, ade_embeddings, tmp_path, run_tool):
    arch, ckpt = tiny_eva
    common = [f'model.backbone.model_name={arch}', 'test_dataloader.num_workers=0',
              'test_dataloader.dataset.image_size=64', 'test_dataloader.dataset.patch_size=8']
    proc = run_tool('test', ['configs/densevlm/densevlm_region_cls_ade.py',
               '--checkpoint', ckpt, '--work-dir', str(tmp_path / 'ade'), '--cfg-options',
               f'test_dataloader.dataset.data_root={ade_root}',
               f'model.text_classifier.embeddings_file={ade_embeddings}'] + common)
    assert proc.returncode == 0, proc.output[-5000:]
    out = proc.output
    for key in DV_KEYS:
        assert re.search(rf'{re.escape(key)}: [\d.]+', out), out[-3000:]
    coco = str(tmp_path / 'coco')
    make_coco_panoptic(coco)
    names = tmp_path / 'names.txt'
    names.write_text('\n'.join(NAMES) + '\n')
    proc = run_tool('test', ['configs/densevlm/densevlm_region_cls_coco.py',
               '--checkpoint', ckpt, '--work-dir', str(tmp_path / 'coco_w'), '--cfg-options',
               f'test_dataloader.dataset.data_root={coco}',
               f'model.text_classifier.class_names={names}'] + common)
    assert proc.returncode == 0, proc.output[-5000:]
    out = proc.output
    assert re.search(r'maskpool\.stuff\.macc1: [\d.]+', out), out[-3000:]


def test_eval_all_region_sheet(tiny_eva, ade_root, ade_embeddings, tmp_path, run_tool):
    from openpyxl import load_workbook
    arch, ckpt = tiny_eva
    config = osp.join(REPO, 'configs/densevlm/densevlm_region_cls_ade.py')
    proc = run_tool('eval_all', [config, '--checkpoint', ckpt,
               '--out', 'results.xlsx', '--cfg-options', f'model.backbone.model_name={arch}',
               f'test_dataloader.dataset.data_root={ade_root}', 'test_dataloader.num_workers=0',
               f'model.text_classifier.embeddings_file={ade_embeddings}',
               'test_dataloader.dataset.image_size=64', 'test_dataloader.dataset.patch_size=8'],
              cwd=str(tmp_path))
    assert proc.returncode == 0, proc.output[-5000:]
    out = proc.output
    assert 'rois.thing.macc1' in out
    book = load_workbook(tmp_path / 'results.xlsx')
    rows = list(book['region_classification'].values)
    header = rows[0]
    assert header[:3] == ('date', 'config', 'dataset') and set(DV_KEYS) <= set(header)
    row = dict(zip(header, rows[1]))
    assert row['dataset'] == 'ADE20KPanopticRegionDataset' and row['weights'] == ckpt
    assert row['image_size'] == 64 and row['text_embeddings'] == ade_embeddings
    assert 0 <= row['rois.thing.macc1'] <= 100
