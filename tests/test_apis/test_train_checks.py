"""apis/resume.py and apis/shared_memory.py: a resume that cannot work and a /dev/shm too small
for the data loader workers are refused before training, with the fix."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch.utils.data import DataLoader

from declip_mmseg.testing.synthetic_data import make_coco
from declip_mmseg.testing.tools import REPO

DECLIP = osp.join(REPO, 'configs/declip/declip_distill_coco.py')
DENSEVLM = osp.join(REPO, 'configs/densevlm/densevlm_coco.py')


def fake_checkpoint(path, cfg):
    """What mmengine's CheckpointHook writes, minus the weights: meta.cfg is the run's config."""
    torch.save({'meta': {'cfg': cfg.pretty_text, 'epoch': 1}, 'state_dict': {},
                'message_hub': {}, 'optimizer': {}}, path)
    return str(path)


def resumed(tmp_path, ckpt, **options):
    from declip_mmseg.apis.train import load_train_config
    return load_train_config(DECLIP, work_dir=str(tmp_path / 'work'), resume=ckpt,
                             cfg_options=options or None)


def test_resume_with_another_methods_checkpoint_is_refused_before_training(tmp_path):
    from declip_mmseg.apis.train import run_train
    ckpt = fake_checkpoint(tmp_path / 'epoch_1.pth', Config.fromfile(DENSEVLM))
    with pytest.raises(ValueError, match=r"epoch_1.pth' was written by a DenseVLMDistiller run, but "
                       r'this config trains DeCLIPDistiller.*another --work-dir'):
        run_train(resumed(tmp_path, ckpt))


def test_resume_with_changed_model_settings_is_refused(tmp_path):
    from declip_mmseg.apis.resume import check_resume
    ckpt = fake_checkpoint(tmp_path / 'epoch_1.pth', Config.fromfile(DECLIP))
    check_resume(resumed(tmp_path, ckpt))  # the run's own config: fine
    check_resume(resumed(tmp_path, ckpt, **{'train_cfg.max_epochs': 9}))  # schedule: fine
    with pytest.raises(ValueError, match=r'other model settings than this config '
                       r"\(model.unlocked_blocks: None then, 6 now\)"):
        check_resume(resumed(tmp_path, ckpt, **{'model.unlocked_blocks': 6}))
    weights = tmp_path / 'clip.pt'
    torch.save({'visual.proj': torch.zeros(2)}, weights)
    with pytest.raises(ValueError, match='is not a training checkpoint of tools/train.py'):
        check_resume(resumed(tmp_path, str(weights)))


def test_small_shared_memory_with_workers_is_refused_with_the_fix(tmp_path, monkeypatch):
    from declip_mmseg.apis import shared_memory
    from declip_mmseg.datasets.grid_distill import GridDistillDataset
    root = make_coco(str(tmp_path / 'coco'))
    dataset = GridDistillDataset(data_root=root, img_dir='train2017', image_size=224,
                                 crop_size=224, max_boxes=20)
    monkeypatch.setattr(shared_memory, 'shared_memory_free', lambda path='/dev/shm': 64 * 1024 ** 2)
    shared_memory.check_shared_memory(DataLoader(dataset, batch_size=2, num_workers=0))
    with pytest.raises(RuntimeError) as err:
        shared_memory.check_shared_memory(DataLoader(dataset, batch_size=2, num_workers=4))
    msg = str(err.value)
    assert msg.startswith('/dev/shm has 64 MB free, but the 4 data loader workers of train_dataloader')
    assert '--shm-size' in msg and 'train_dataloader.num_workers=0' in msg
    monkeypatch.setattr(shared_memory, 'shared_memory_free', lambda path='/dev/shm': 64 * 1024 ** 3)
    shared_memory.check_shared_memory(DataLoader(dataset, batch_size=2, num_workers=4))
