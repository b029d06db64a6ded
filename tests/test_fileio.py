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


# -- output paths checked before the work ----------------------------------------------------
def test_check_output_file_refuses_folders_and_missing_extensions(tmp_path):
    from declip_mmseg.fileio import OutputPathError, check_output_file
    with pytest.raises(OutputPathError, match="--out 'results/' is a folder"):
        check_output_file('results/', ('.png',))
    with pytest.raises(OutputPathError, match='is a folder'):
        check_output_file(str(tmp_path), ('.png',))
    with pytest.raises(OutputPathError, match=r"has no extension.*\.png"):
        check_output_file(str(tmp_path / 'overlay'), ('.png', '.jpg'))
    with pytest.raises(OutputPathError, match=r"extension '\.txt'.*\.xlsx"):
        check_output_file(str(tmp_path / 'r.txt'), ('.xlsx',), '--out')
    with pytest.raises(OutputPathError, match='is a file, not a folder'):
        (tmp_path / 'afile').write_text('x')
        check_output_file(str(tmp_path / 'afile' / 'o.png'), ('.png',))
    # a missing folder is fine (created by the writer), and nothing is created by the check
    assert check_output_file(str(tmp_path / 'new' / 'o.png'), ('.png',)).endswith('o.png')
    assert not (tmp_path / 'new').exists()


@pytest.mark.skipif(os.geteuid() == 0, reason='root ignores permission bits')
def test_check_output_refuses_a_read_only_folder(tmp_path):
    from declip_mmseg.fileio import OutputPathError, check_output_file, check_output_folder
    ro = tmp_path / 'ro'
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        with pytest.raises(OutputPathError, match='cannot write in.*ro'):
            check_output_file(str(ro / 'x.png'), ('.png',))
        with pytest.raises(OutputPathError, match='cannot write in'):
            check_output_folder(str(ro / 'show'))
    finally:
        os.chmod(ro, 0o755)


def test_check_output_folder_refuses_a_file(tmp_path):
    from declip_mmseg.fileio import OutputPathError, check_output_folder
    (tmp_path / 'f').write_text('x')
    with pytest.raises(OutputPathError, match="--show-dir .* is a file"):
        check_output_folder(str(tmp_path / 'f'))
    assert check_output_folder(str(tmp_path / 'new' / 'show'))


def test_check_output_names_a_read_only_file_system(tmp_path, monkeypatch):
    """The folder probe is a real temporary file, so a read-only mount fails even for root."""
    import declip_mmseg.fileio as fileio

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))
    monkeypatch.setattr(fileio.tempfile, 'mkstemp', read_only)
    with pytest.raises(fileio.OutputPathError, match=r"--out '.*o.png': cannot write in .*"
                                                      r"Read-only file system"):
        fileio.check_output_file(str(tmp_path / 'o.png'), ('.png',))
