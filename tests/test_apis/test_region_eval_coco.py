"""DeCLIP's region-classification validation through tools/test.py, 1 and 2 processes."""
import os
import re

import pytest

from declip_mmseg.testing.synthetic_data import COCO_PANOPTIC_NAMES as NAMES
from declip_mmseg.testing.synthetic_data import make_coco_panoptic
from declip_mmseg.testing.tools import run_process

# deliberately not sorted by id: labels follow the sorted ids












@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('data') / 'coco')
    make_coco_panoptic(root)
    return root


# -- tools/test.py -----------------------------------------------------------------
CONFIG = 'configs/declip/declip_region_cls_coco.py'


KEYS = [f'{m}_{kind}_top{k}' for m in ('rois', 'maskpool') for kind in ('thing', 'stuff')
        for k in (1, 5)]




def printed_metrics(proc):
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    found = {key: re.findall(rf'{key}: ([\d.]+)', out) for key in KEYS}
    assert all(found.values()), out[-3000:]
    return {key: float(v[-1]) for key, v in found.items()}, out


@pytest.fixture(scope='module')
def tool_options(tiny_eva, coco_root, tmp_path_factory):
    arch, ckpt = tiny_eva
    work = tmp_path_factory.mktemp('work')
    names = work / 'names.txt'
    names.write_text('\n'.join(NAMES) + '\n')
    return ['--work-dir', str(work), '--cfg-options',
            f'model.backbone.model_name={arch}', f'model.backbone.pretrained={ckpt}',
            f'model.text_classifier.class_names={names}',
            f'test_dataloader.dataset.data_root={coco_root}', 'test_dataloader.num_workers=0',
            'test_dataloader.dataset.image_size=64', 'test_dataloader.dataset.patch_size=8']


@pytest.mark.slow
def test_tools_test_end_to_end(tool_options, tmp_path, run_tool):
    metrics, out = printed_metrics(run_tool('test', [CONFIG] + tool_options))
    assert 'Iter(test) [3/3]' in out and "attn_mode='qq'" in out
    assert all(0 <= v <= 100 for v in metrics.values())
    # two processes (gloo on the CPU; the sampler pads 3 images to 4): the same numbers
    dist, out = printed_metrics(run_process(
        ['bash', 'tools/dist_test.sh', CONFIG, '2'] + tool_options,
        env={'OMP_NUM_THREADS': '1', 'PORT': str(29500 + (os.getpid() + 7) % 1000)}))
    assert dist == metrics and 'Iter(test) [2/2]' in out
    # a missing annotation file is named
    options = [o for o in tool_options if not o.startswith('test_dataloader.dataset.data_root')]
    proc = run_tool('test', [CONFIG] + options + [f'test_dataloader.dataset.data_root={tmp_path}'])
    assert proc.returncode != 0 and 'panoptic_val2017.json' in proc.stderr
