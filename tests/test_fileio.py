import errno
import os
import stat

import pytest
import torch

from declip_mmseg.fileio import OutputWriteError, safe_write


def test_safe_write_replaces_and_keeps_mode(tmp_path):
    target = tmp_path / 'book.xlsx'
    target.write_bytes(b'old')
    os.chmod(target, 0o664)
    with safe_write(str(target)) as tmp:
        assert tmp.endswith('.xlsx') and os.path.dirname(tmp) == str(tmp_path)
        with open(tmp, 'wb') as f:
            f.write(b'new')
    assert target.read_bytes() == b'new'
    assert stat.S_IMODE(target.stat().st_mode) == 0o664
    assert os.listdir(tmp_path) == ['book.xlsx']


def test_safe_write_failure_keeps_target_and_names_path(tmp_path):
    target = tmp_path / 'ckpt.pt'
    torch.save({'a': torch.ones(2)}, target)
    before = target.read_bytes()
    with pytest.raises(OutputWriteError, match='ckpt.pt.*No space left'):
        with safe_write(str(target)) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'partial')
            raise OSError(errno.ENOSPC, 'No space left on device')
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ['ckpt.pt']


def test_safe_write_torch_full_disk_message(tmp_path):
    target = tmp_path / 'x.pt'
    with pytest.raises(OutputWriteError, match='x.pt.*free some space'):
        with safe_write(str(target)):
            raise RuntimeError('[enforce fail at inline_container.cc:778] . unexpected pos 64')
    assert not target.exists() and os.listdir(tmp_path) == []


def test_safe_write_other_errors_pass_through(tmp_path):
    with pytest.raises(ValueError):
        with safe_write(str(tmp_path / 'y.png')):
            raise ValueError('a bug, not a write failure')
    assert os.listdir(tmp_path) == []


def test_safe_write_refuses_a_folder(tmp_path):
    with pytest.raises(OutputWriteError, match='is a folder|Is a directory'):
        with safe_write(str(tmp_path)):
            pass
