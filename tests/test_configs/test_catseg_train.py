"""CAT-Seg training through tools/train.py: the COCO-Stuff config with a tiny model, periodic
evaluation, and the exported catseg_model.pth read back by model.checkpoint."""
import os

import pytest
import torch
from mmseg.registry import MODELS

from declip_mmseg.testing.catseg import (
    TINY_CATSEG_AGGREGATOR,
    make_catseg_coco_stuff,
    tiny_catseg_cfg,
)
from declip_mmseg.testing.tools import REPO

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
