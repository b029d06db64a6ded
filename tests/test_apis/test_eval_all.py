"""apis/eval_all.py through tools/eval_all.py: the workbook, result rows, a broken --out."""
import os.path as osp

import pytest
from mmengine.config import Config

from declip_mmseg.apis.eval_all import (
    resolve_configs,
)
from declip_mmseg.testing.synthetic_data import LAYOUTS, make_voc
from declip_mmseg.testing.tools import REPO

PAMR = 'PAMR(num_iter=10, dilations=(8, 16))'


def test_result_row_records_method_and_protocol():
    from declip_mmseg.apis.eval_all import result_row
    from declip_mmseg.apis.workbook import RESULT_COLUMNS
    path = resolve_configs(None, 'naclip')[0]
    row = result_row(path, Config.fromfile(path), {'mIoU': 1.0}, 'now')
    assert set(row) == set(RESULT_COLUMNS)
    assert (row['method'], row['config'], row['postprocess'], row['inference_mode']) == \
        ('naclip', 'naclip/cfg_voc21.py', PAMR, 'whole')
    assert (row['short_side'], row['resize_scale'], row['patch_fit'], row['attn_mode']) == \
        (336, '(2048, 336)', 'floor', 'naclip')
    assert row['normalization'] == 'clip' and row['proxy'] is None
    path = resolve_configs(None, 'declip_proxy')[2]
    row = result_row(path, Config.fromfile(path), {}, 'now')
    assert row['method'] == 'declip_proxy' and row['proxy'].startswith('dino-B-8 beta=1.2 gamma=3.0')
    path = resolve_configs(None, 'maskclip')[0]
    row = result_row(path, Config.fromfile(path), {}, 'now')
    assert row['normalization'].startswith('mean=[123.675') and row['templates'] == 'maskclip_85'




def test_eval_all_tool_refuses_a_broken_out_at_once(tmp_path, run_tool):
    (tmp_path / 'results.xlsx').write_bytes(b'not a workbook')
    proc = run_tool('eval_all', ['configs/cfg_voc20.py', '--out',
                str(tmp_path / 'results.xlsx'), '--work-dir', str(tmp_path / 'w')])
    assert proc.returncode != 0 and '[1/1]' not in proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith('error: ')
    assert 'results.xlsx' in proc.stderr and 'left untouched' in proc.stderr


@pytest.mark.slow
def test_eval_all_workbook(tiny_clip, tmp_path, run_tool):
    """The tool run from a folder holding data/ in the configs' default layout."""
    from openpyxl import load_workbook
    make_voc(str(tmp_path / 'data/VOCdevkit/VOC2012'))
    LAYOUTS['ade20k'][0](str(tmp_path / 'data/ade/ADEChallengeData2016'))
    arch, ckpt = tiny_clip
    args = [osp.join(REPO, 'configs/cfg_voc20.py'), osp.join(REPO, 'configs/cfg_ade20k.py'),
            '--out', 'results.xlsx', '--cfg-options', f'model.backbone.model_name={arch}',
            f'model.backbone.pretrained={ckpt}', 'test_dataloader.num_workers=0']
    for _ in range(2):  # the second run appends
        proc = run_tool('eval_all', args, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-5000:]
        assert '[2/2] cfg_ade20k: mIoU' in proc.stdout
    book = load_workbook(tmp_path / 'results.xlsx')
    rows = list(book['results'].values)
    header = rows[0]
    assert header[:3] == ('date', 'config', 'dataset')
    assert [r[header.index('config')] for r in rows[1:]] == ['cfg_voc20.py', 'cfg_ade20k.py'] * 2
    first = dict(zip(header, rows[1]))
    assert first['dataset'] == 'PascalVOC20Dataset' and first['attn_mode'] == 'qq'
    assert first['short_side'] == 448 and first['slide_crop'] == 448 and first['logit_scale'] == 50
    assert 0 <= first['mIoU'] <= 100 and first['weights'] == ckpt
    assert first['mIoU'] == dict(zip(header, rows[3]))['mIoU']  # deterministic
    per_class = list(book['per_class_IoU'].values)
    assert len(per_class) == 1 + 2 * (20 + 150)
    assert per_class[1][per_class[0].index('class')] == 'aeroplane'
    # a failing config is reported, the others still land in the workbook
    bad = args[:1] + [osp.join(REPO, 'configs/cfg_context59.py')] + args[2:]
    proc = run_tool('eval_all', bad, cwd=tmp_path)
    assert proc.returncode != 0 and '1 of 2 configs failed' in proc.stderr
    assert len(list(load_workbook(tmp_path / 'results.xlsx')['results'].values)) == 6
