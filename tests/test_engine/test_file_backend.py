"""engine/file_backend.py: training checkpoints are written beside the target and renamed, so a
full disk never leaves a truncated epoch_N.pth; every training config uses it."""
import errno
import glob
import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.fileio import get_file_backend

from declip_mmseg.engine import SafeLocalBackend
from declip_mmseg.fileio import OutputWriteError
from declip_mmseg.testing.tools import REPO

TRAIN_CONFIGS = sorted(
    osp.relpath(p, osp.join(REPO, 'configs')) for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                                                                  recursive=True)
    if '_base_' not in p and 'train_dataloader' in Config.fromfile(p))


def test_backend_is_registered_and_writes_whole_files(tmp_path):
    backend = get_file_backend(str(tmp_path), backend_args=dict(backend='safe_local'))
    assert isinstance(backend, SafeLocalBackend)
    target = tmp_path / 'work' / 'epoch_1.pth'
    backend.put(b'weights', str(target))
    backend.put_text('epoch_1.pth', str(tmp_path / 'last_checkpoint'))
    assert target.read_bytes() == b'weights'
    assert sorted(os.listdir(tmp_path)) == ['last_checkpoint', 'work']


def test_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    target = tmp_path / 'epoch_2.pth'
    target.write_bytes(b'old complete checkpoint')
    real_open = open

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[:3])
            raise OSError(errno.ENOSPC, 'No space left on device')

    def fake_open(path, mode='r', *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return FullDisk(f) if 'w' in mode and '.tmp' in str(path) else f

    monkeypatch.setattr('builtins.open', fake_open)
    with pytest.raises(OutputWriteError, match='epoch_2.pth.*No space left'):
        SafeLocalBackend().put(b'new checkpoint', str(target))
    monkeypatch.undo()
    assert target.read_bytes() == b'old complete checkpoint'
    assert os.listdir(tmp_path) == ['epoch_2.pth']


@pytest.mark.parametrize('config', TRAIN_CONFIGS)
def test_every_training_config_saves_checkpoints_safely(config):
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    assert cfg.default_hooks.checkpoint.backend_args == dict(backend='safe_local')
