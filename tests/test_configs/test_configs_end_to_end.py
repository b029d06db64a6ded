"""The ClearCLIP and DeCLIP configs run end to end through tools/test.py on synthetic benchmarks."""
import re

import pytest

from declip_mmseg.datasets.converters.coco_object import convert_coco_object
from declip_mmseg.testing.synthetic_data import LAYOUTS, NUM_CLASSES

CONFIGS = ['voc21', 'voc20', 'context60', 'context59', 'city_scapes', 'ade20k', 'coco_stuff164k',
           'coco_object']






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
        convert_coco_object(root, splits=['val2017'])
    return root


@pytest.mark.slow
@pytest.mark.parametrize('name', CONFIGS)
def test_config_runs_end_to_end(tiny_clip, tmp_path, name, run_tool):
    root = prepare(name, tmp_path)
    proc = run_tool('test', [f'configs/cfg_{name}.py',
                '--work-dir', str(tmp_path / 'work')] + tiny_options(tiny_clip, root))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    out = proc.stdout + proc.stderr
    a_acc, miou, m_acc = metrics(out)
    assert 'Iter(test) [3/3]' in out  # all three images evaluated
    assert 0 <= miou <= 100 and 0 <= a_acc <= 100 and 0 <= m_acc <= 100
    rows = re.findall(r'^\|\s*(\S[^|]*?)\s*\|\s*[\d.na]+\s*\|', out, re.M)
    assert len(rows) == NUM_CLASSES[name]  # the per-class table covers every class


@pytest.mark.slow
@pytest.mark.parametrize('name', ['voc21', 'city_scapes'])
def test_declip_config_runs_end_to_end(tiny_eva, tmp_path, name, run_tool):
    """configs/declip with a tiny EVA02 saved the way DeCLIP's training saves it."""
    import torch

    from declip_mmseg.testing.checkpoints import eva_clip_state_dict
    arch, ckpt = tiny_eva
    released = str(tmp_path / 'declip_release.pt')
    torch.save({'epoch': 6, 'name': 'declip', 'state_dict': eva_clip_state_dict(
        torch.load(ckpt, weights_only=True))}, released)
    root = prepare(name, tmp_path)
    proc = run_tool('test', [f'configs/declip/cfg_{name}.py',
                '--checkpoint', released, '--work-dir', str(tmp_path / 'work'),
                '--cfg-options', f'model.backbone.model_name={arch}',
                f'test_dataloader.dataset.data_root={root}', 'test_dataloader.num_workers=0'])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    out = proc.stdout + proc.stderr
    a_acc, miou, m_acc = metrics(out)
    assert 'Iter(test) [3/3]' in out and 0 <= miou <= 100
    assert "attn_mode='csa'" in out and 'attn_scale=1.0' in out
