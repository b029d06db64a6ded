"""CAT-Seg training through tools/train.py: the COCO-Stuff config with a tiny model, periodic
evaluation, and the exported catseg_model.pth read back by model.checkpoint; resume equals an
uninterrupted run; two gloo processes average their gradients."""
import glob
import json
import os
import sys

import pytest
import torch
from mmseg.registry import MODELS

from declip_mmseg.testing.catseg import (
    TINY_CATSEG_AGGREGATOR,
    make_catseg_coco_stuff,
    tiny_catseg_cfg,
)
from declip_mmseg.testing.tools import REPO, run_process

CONFIG = 'configs/catseg/catseg_declip-eva02-b16_4xb1-80k_coco-stuff164k-384x384.py'


@pytest.mark.slow
def test_training_config_trains_and_exports(tiny_eva, tmp_path, run_tool):
    arch, ckpt = tiny_eva
    root = make_catseg_coco_stuff(str(tmp_path / 'coco-stuff'))
    config = tmp_path / 'tiny_train.py'
    aggregator = {k: v for k, v in TINY_CATSEG_AGGREGATOR.items() if k != 'type'}
    aggregator['pooling_sizes'] = (2, 2)
    config.write_text(
        f"_base_ = [{os.path.join(REPO, CONFIG)!r}]\n"
        f"model = dict(backbone=dict(model_name={arch!r}, pretrained={ckpt!r}),\n"
        f"    aggregator=dict(**{aggregator!r}), clip_resolution=(32, 32), guidance_layers=(0, 1),\n"
        "    upsample_dims=(16, 8), size_divisor=8)\n"
        "train_cfg = dict(max_iters=3, val_interval=3)\n"
        "param_scheduler = [dict(type='CosineAnnealingLR', T_max=3, eta_min=0.0, by_epoch=False,\n"
        "                        begin=0, end=3)]\n"
        "default_hooks = dict(checkpoint=dict(interval=3), logger=dict(interval=1))\n"
        f"train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,\n"
        f"    dataset=dict(data_root={root!r}))\n"
        f"val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root={root!r}))\n"
        f"test_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root={root!r}))\n"
        "vis_backends = [dict(type='LocalVisBackend')]\n"
        "visualizer = dict(vis_backends=vis_backends)\n")
    work = tmp_path / 'work'
    proc = run_tool('train', [str(config), '--work-dir', str(work)])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert 'loss_sem_seg' in out and 'mIoU' in out
    exported = work / 'catseg_model.pth'
    assert exported.is_file()
    saved = torch.load(str(work / 'iter_3.pth'), map_location='cpu', weights_only=False)['state_dict']
    model = MODELS.build(tiny_catseg_cfg(arch, class_names=[f'c{i}' for i in range(171)],
                                         checkpoint=str(exported)))
    for key, value in model.state_dict().items():
        assert torch.equal(value, saved[key]), key


def tiny_train_config(path, tiny_eva, root, max_iters, total_iters, batch_size=2, extra='',
                      pipeline=None):
    """The COCO-Stuff training config with the tiny model, ``max_iters`` of a cosine schedule over
    ``total_iters``, a checkpoint every 2 iterations, the loss logged every iteration unsmoothed;
    ``pipeline``: a training pipeline instead of the config's (a config expression)."""
    arch, ckpt = tiny_eva
    aggregator = {k: v for k, v in TINY_CATSEG_AGGREGATOR.items() if k != 'type'}
    aggregator['pooling_sizes'] = (2, 2)
    path.write_text(
        f"_base_ = [{os.path.join(REPO, CONFIG)!r}]\n"
        f"model = dict(backbone=dict(model_name={arch!r}, pretrained={ckpt!r}),\n"
        f"    aggregator=dict(**{aggregator!r}), clip_resolution=(32, 32), guidance_layers=(0, 1),\n"
        "    upsample_dims=(16, 8), size_divisor=8)\n"
        f"train_cfg = dict(max_iters={max_iters}, val_interval=1000)\n"
        "val_cfg = None\nval_dataloader = None\nval_evaluator = None\n"
        f"param_scheduler = [dict(type='CosineAnnealingLR', T_max={total_iters}, eta_min=0.0,\n"
        f"                        by_epoch=False, begin=0, end={total_iters})]\n"
        "default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=5), logger=dict(interval=1))\n"
        "log_processor = dict(window_size=1)\n"
        f"train_dataloader = dict(batch_size={batch_size}, num_workers=0, persistent_workers=False,\n"
        f"    dataset=dict(data_root={root!r}" + (f", pipeline={pipeline}" if pipeline else '') + "))\n"
        f"test_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root={root!r}))\n"
        "vis_backends = [dict(type='LocalVisBackend')]\n"
        "visualizer = dict(vis_backends=vis_backends)\n" + extra)
    return str(path)


def loss_history(work):
    """{iter: loss_sem_seg} of every scalars.json under ``work`` (one per run of tools/train.py)."""
    history = {}
    for path in sorted(glob.glob(str(work / '*' / 'vis_data' / 'scalars.json'))):
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                if 'loss_sem_seg' in row:
                    history[row['iter']] = row['loss_sem_seg']
    return history


@pytest.mark.slow
def test_resume_equals_uninterrupted_run(tiny_eva, tmp_path, run_tool):
    """4 iterations in one go vs 2, then --resume to 4: the same weights, optimizer state and
    losses, bit for bit (augmentations, sampler, schedule and text embeddings all restored)."""
    root = make_catseg_coco_stuff(str(tmp_path / 'coco-stuff'), n=4)
    whole, part = tmp_path / 'whole', tmp_path / 'part'
    config = tiny_train_config(tmp_path / 'whole.py', tiny_eva, root, 4, 4)
    proc = run_tool('train', [config, '--work-dir', str(whole)])
    assert proc.returncode == 0, proc.output[-6000:]
    config = tiny_train_config(tmp_path / 'part.py', tiny_eva, root, 2, 4)
    proc = run_tool('train', [config, '--work-dir', str(part)])
    assert proc.returncode == 0, proc.output[-6000:]
    config = tiny_train_config(tmp_path / 'resume.py', tiny_eva, root, 4, 4)
    proc = run_tool('train', [config, '--work-dir', str(part), '--resume'])
    assert proc.returncode == 0, proc.output[-6000:]
    assert 'resumed' in proc.output.lower()
    a = torch.load(str(whole / 'iter_4.pth'), map_location='cpu', weights_only=False)
    b = torch.load(str(part / 'iter_4.pth'), map_location='cpu', weights_only=False)
    assert a['state_dict'].keys() == b['state_dict'].keys()
    mid = torch.load(str(whole / 'iter_2.pth'), map_location='cpu', weights_only=False)['state_dict']
    changed = 0
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
        changed += not torch.equal(value, mid[key])
    assert changed > 0  # iterations 3 and 4 did train
    for sa, sb in zip(a['optimizer']['state'].values(), b['optimizer']['state'].values()):
        for name in sa:
            assert torch.equal(torch.as_tensor(sa[name]), torch.as_tensor(sb[name])), name
    losses_a, losses_b = loss_history(whole), loss_history(part)
    assert sorted(losses_a) == sorted(losses_b) == [1, 2, 3, 4]
    assert losses_a == losses_b


# a hook, imported by the two processes: each saves its own model weights when training ends
RANK_DUMP = """
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RankWeightsDump(Hook):
    def _dump(self, runner, name):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        torch.save(model.state_dict(), f'{runner.work_dir}/{name}{get_rank()}.pth')

    def before_train(self, runner):
        self._dump(runner, 'start')

    def after_train(self, runner):
        self._dump(runner, 'rank')
"""


@pytest.mark.slow
def test_dist_train_two_processes_average_gradients(tiny_eva, tmp_path, run_tool):
    """tools/dist_train.sh with 2 gloo processes of batch 1 for one SGD step: both ranks end with
    the same weights, equal to one process's step on the batch of both images. SGD without
    gradient clipping, so the update is linear in the gradient (a sum instead of a mean would
    show); augmentations left out, so each image is the same in both runs. 171 classes above the
    tiny model's pad_len 8: the learned class padding is unused, yet must reach DDP's reducer
    (without, no gradient is reduced in that step and the next one fails)."""
    root = make_catseg_coco_stuff(str(tmp_path / 'coco-stuff'), n=2)
    (tmp_path / 'rank_dump.py').write_text(RANK_DUMP)
    extra = ("custom_imports = dict(imports=['declip_mmseg', 'rank_dump'], allow_failed_imports=False)\n"
             "custom_hooks = [dict(type='RankWeightsDump')]\n"
             "optim_wrapper = dict(_delete_=True, type='OptimWrapper',\n"
             "    optimizer=dict(type='SGD', lr=0.5, momentum=0.0, weight_decay=0.0),\n"
             "    paramwise_cfg=dict(custom_keys={'backbone.': dict(lr_mult=0.01),\n"
             "                                    'text_classifier.clip.': dict(lr_mult=0.01)}))\n"
             "env_cfg = dict(dist_cfg=dict(backend='gloo'))\n")
    pipeline = ("[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), "
                "dict(type='PackSegInputs')]")
    one = tiny_train_config(tmp_path / 'one.py', tiny_eva, root, 1, 1, 2, extra, pipeline)
    two = tiny_train_config(tmp_path / 'two.py', tiny_eva, root, 1, 1, 1, extra, pipeline)
    env = {'PORT': str(29800 + os.getpid() % 1000), 'PYTHON': sys.executable, 'OMP_NUM_THREADS': '1',
           'PYTHONPATH': os.pathsep.join([REPO, str(tmp_path)])}
    proc = run_process(['bash', 'tools/dist_train.sh', two, '2', '--work-dir', str(tmp_path / 'two')],
                       env=env)
    assert proc.returncode == 0, proc.output[-6000:]
    assert 'Distributed training: True' in proc.output
    sys.path.insert(0, str(tmp_path))
    try:
        proc = run_tool('train', [one, '--work-dir', str(tmp_path / 'one')])
    finally:
        sys.path.remove(str(tmp_path))
    assert proc.returncode == 0, proc.output[-6000:]
    def load(run, name):
        return torch.load(str(tmp_path / run / f'{name}.pth'), map_location='cpu')
    rank0, rank1, single = load('two', 'rank0'), load('two', 'rank1'), load('one', 'rank0')
    start, start_single = load('two', 'start0'), load('one', 'start0')
    moved = 0
    for key, value in single.items():
        assert torch.equal(start[key], start_single[key]), key
        assert torch.equal(rank0[key], rank1[key]), key
        # the mean over the two images is summed in another order by one process (one backward
        # over both) than by DDP (two backwards, then (g0 + g1) / 2): float rounding only
        torch.testing.assert_close(rank0[key] - start[key], value - start[key], rtol=1e-4, atol=1e-7,
                                   msg=key)
        moved += not torch.equal(value, start[key])
    assert moved > 0
