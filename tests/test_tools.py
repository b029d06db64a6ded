"""End to end through the command-line tools, on synthetic data in each benchmark's real layout."""
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO
from PIL import Image
from synthetic_data import LAYOUTS, make_coco_stuff, make_voc

CONFIGS = ['voc21', 'voc20', 'context60', 'context59', 'city_scapes', 'ade20k', 'coco_stuff164k',
           'coco_object']
NUM_CLASSES = {'voc21': 21, 'voc20': 20, 'context60': 60, 'context59': 59, 'city_scapes': 19,
               'ade20k': 150, 'coco_stuff164k': 171, 'coco_object': 81}


def run(args, check=True, **kw):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='2')
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-5000:]}')
    return proc


def tiny_options(tiny_clip, data_root):
    arch, ckpt = tiny_clip
    return ['--cfg-options', f'model.backbone.model_name={arch}',
            f'model.backbone.pretrained={ckpt}', f'test_dataloader.dataset.data_root={data_root}',
            'test_dataloader.num_workers=0']


def metrics(output):
    found = re.findall(r'aAcc: ([\d.]+)\s+mIoU: ([\d.]+)\s+mAcc: ([\d.]+)', output)
    assert found, output[-3000:]
    return tuple(float(v) for v in found[-1])


def prepare(name, tmp_path):
    maker, rel = LAYOUTS[name]
    root = str(tmp_path / 'data' / rel)
    maker(root)
    if name == 'coco_object':
        run([sys.executable, 'datasets/cvt_coco_object.py', root, '--splits', 'val2017'])
    return root


@pytest.mark.parametrize('name', CONFIGS)
def test_config_runs_end_to_end(tiny_clip, tmp_path, name):
    root = prepare(name, tmp_path)
    proc = run([sys.executable, 'tools/test.py', f'configs/cfg_{name}.py',
                '--work-dir', str(tmp_path / 'work')] + tiny_options(tiny_clip, root))
    out = proc.stdout + proc.stderr
    a_acc, miou, m_acc = metrics(out)
    assert 'Iter(test) [3/3]' in out  # all three images evaluated
    assert 0 <= miou <= 100 and 0 <= a_acc <= 100 and 0 <= m_acc <= 100
    rows = re.findall(r'^\|\s*(\S[^|]*?)\s*\|\s*[\d.na]+\s*\|', out, re.M)
    assert len(rows) == NUM_CLASSES[name]  # the per-class table covers every class


@pytest.mark.parametrize('name', ['voc21', 'city_scapes'])
def test_declip_config_runs_end_to_end(tiny_eva, tmp_path, name):
    """configs/declip with a tiny EVA02 saved the way DeCLIP's training saves it."""
    import torch
    from test_eva import eva_clip_state_dict
    arch, ckpt = tiny_eva
    released = str(tmp_path / 'declip_release.pt')
    torch.save({'epoch': 6, 'name': 'declip', 'state_dict': eva_clip_state_dict(
        torch.load(ckpt, weights_only=True))}, released)
    root = prepare(name, tmp_path)
    proc = run([sys.executable, 'tools/test.py', f'configs/declip/cfg_{name}.py',
                '--checkpoint', released, '--work-dir', str(tmp_path / 'work'),
                '--cfg-options', f'model.backbone.model_name={arch}',
                f'test_dataloader.dataset.data_root={root}', 'test_dataloader.num_workers=0'])
    out = proc.stdout + proc.stderr
    a_acc, miou, m_acc = metrics(out)
    assert 'Iter(test) [3/3]' in out and 0 <= miou <= 100
    assert "attn_mode='csa'" in out and 'attn_scale=1.0' in out


def test_coco_object_conversion(tmp_path):
    from declip_mmseg.datasets.converters.coco_object import RAW_TO_OBJECT
    root = make_coco_stuff(str(tmp_path / 'coco'), n=2)
    run([sys.executable, 'datasets/cvt_coco_object.py', root, '--splits', 'val2017'])
    for stem in ('000000000139', '000000000285'):
        raw = np.array(Image.open(osp.join(root, 'annotations/val2017', f'{stem}.png')))
        obj = np.array(Image.open(osp.join(root, 'annotations/val2017',
                                           f'{stem}_instanceTrainIds.png')))
        assert obj.shape == raw.shape and obj.max() <= 80
        assert np.array_equal(obj, np.vectorize(RAW_TO_OBJECT.get)(raw))
    assert RAW_TO_OBJECT[0] == 1 and RAW_TO_OBJECT[90 - 1] == 80 and RAW_TO_OBJECT[92] == 0
    assert RAW_TO_OBJECT[255] == 0
    assert open(osp.join(root, 'val2017_object.txt')).read().split() == ['000000000139',
                                                                          '000000000285']
    proc = run([sys.executable, 'datasets/cvt_coco_object.py', str(tmp_path)], check=False)
    assert proc.returncode != 0 and 'annotations/val2017' in proc.stderr


def test_eval_all_workbook(tiny_clip, tmp_path):
    """The tool run from a folder holding data/ in the configs' default layout."""
    from openpyxl import load_workbook
    make_voc(str(tmp_path / 'data/VOCdevkit/VOC2012'))
    LAYOUTS['ade20k'][0](str(tmp_path / 'data/ade/ADEChallengeData2016'))
    arch, ckpt = tiny_clip
    args = [sys.executable, osp.join(REPO, 'tools/eval_all.py'),
            osp.join(REPO, 'configs/cfg_voc20.py'), osp.join(REPO, 'configs/cfg_ade20k.py'),
            '--out', 'results.xlsx', '--cfg-options', f'model.backbone.model_name={arch}',
            f'model.backbone.pretrained={ckpt}', 'test_dataloader.num_workers=0']
    for _ in range(2):  # the second run appends
        proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True)
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
    bad = args[:2] + [osp.join(REPO, 'configs/cfg_context59.py')] + args[3:]
    proc = subprocess.run(bad, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0 and '1 of 2 configs failed' in proc.stderr
    assert len(list(load_workbook(tmp_path / 'results.xlsx')['results'].values)) == 6


def test_show_dir_writes_drawings(tiny_clip, tmp_path):
    root = prepare('voc21', tmp_path)
    show = tmp_path / 'show'
    run([sys.executable, 'tools/test.py', 'configs/cfg_voc21.py', '--work-dir',
         str(tmp_path / 'w'), '--show-dir', str(show)] + tiny_options(tiny_clip, root))
    drawn = [f for _, _, files in os.walk(show) for f in files if f.endswith(('.png', '.jpg'))]
    assert len(drawn) == 3


def test_custom_vocabulary_on_the_command_line(tiny_clip, tmp_path):
    root = prepare('voc20', tmp_path)
    names = tmp_path / 'names.txt'
    names.write_text('\n'.join(f'thing {i}; item {i}' for i in range(20)))
    proc = run([sys.executable, 'tools/test.py', 'configs/cfg_voc20.py', '--classes', str(names),
                '--work-dir', str(tmp_path / 'w')] + tiny_options(tiny_clip, root))
    assert 'encoding 40 class names' in proc.stdout + proc.stderr
    names.write_text('cat\n\ndog')
    proc = run([sys.executable, 'tools/test.py', 'configs/cfg_voc20.py', '--classes', str(names),
                '--work-dir', str(tmp_path / 'w')] + tiny_options(tiny_clip, root), check=False)
    assert proc.returncode != 0 and f'{names}, line 2: empty line' in proc.stderr


def test_missing_and_empty_datasets_are_clear_errors(tiny_clip, tmp_path):
    proc = run([sys.executable, 'tools/test.py', 'configs/cfg_ade20k.py', '--work-dir',
                str(tmp_path / 'w')] + tiny_options(tiny_clip, str(tmp_path / 'nowhere')),
               check=False)
    assert proc.returncode != 0
    assert "nowhere/images/validation' of ADE20KDataset does not exist" in proc.stderr
    root = make_voc(str(tmp_path / 'voc'), n=1)
    open(osp.join(root, 'ImageSets/Segmentation/val.txt'), 'w').close()
    proc = run([sys.executable, 'tools/test.py', 'configs/cfg_voc21.py', '--work-dir',
                str(tmp_path / 'w')] + tiny_options(tiny_clip, root), check=False)
    assert proc.returncode != 0 and 'The test set of PascalVOCDataset is empty' in proc.stderr


def test_wrong_checkpoint_is_a_clear_error(tiny_clip, tmp_path):
    root = prepare('voc20', tmp_path)
    proc = run([sys.executable, 'tools/test.py', 'configs/cfg_voc20.py', '--checkpoint',
                str(tmp_path / 'missing.pt'), '--work-dir', str(tmp_path / 'w')]
               + tiny_options(tiny_clip, root)[:2] + tiny_options(tiny_clip, root)[3:],
               check=False)
    assert proc.returncode != 0 and 'missing.pt' in proc.stderr and 'does not exist' in proc.stderr


def test_demo_overlay(tiny_clip, tmp_path):
    arch, ckpt = tiny_clip
    img = (np.random.default_rng(0).random((61, 95, 3)) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / 'photo.jpg')
    out = tmp_path / 'overlay.png'
    proc = run([sys.executable, 'tools/demo.py', str(tmp_path / 'photo.jpg'), '--classes',
                'cat; dog, puppy; grass', '--out', str(out), '--cfg-options',
                f'model.backbone.model_name={arch}', f'model.backbone.pretrained={ckpt}'])
    assert 'classes found' in proc.stdout
    drawn = np.array(Image.open(out))
    assert drawn.shape[0] >= 61 and drawn.shape[1] > 95  # image plus legend
    proc = run([sys.executable, 'tools/demo.py', str(tmp_path / 'nope.jpg'), '--classes', 'a'],
               check=False)
    assert proc.returncode != 0 and 'nope.jpg' in proc.stderr


def test_benchmark_script_runs(tiny_clip):
    """Smoke run of tools/benchmark.py on the tiny CLIP (figures are not asserted)."""
    arch, _ = tiny_clip
    proc = run([sys.executable, 'tools/benchmark.py', '--model', arch, '--height', '40',
                '--width', '56', '--crop', '32', '--stride', '16', '--repeats', '1'])
    lines = [line for line in proc.stdout.splitlines() if line.startswith('| ')]
    header = [c.strip() for c in lines[0].split('|')[1:-1]]
    rows = [dict(zip(header, (c.strip() for c in line.split('|')[1:-1]))) for line in lines[1:]]
    assert [r['mode'] for r in rows] == ['reference', 'one-window', 'batched', 'batched-bf16']
    assert all(r['device'] == 'cpu' and float(r['ms_per_image']) > 0 for r in rows)
    assert max(float(r['max_abs_diff_vs_reference']) for r in rows[:3]) < 1e-5  # fp32 paths agree
