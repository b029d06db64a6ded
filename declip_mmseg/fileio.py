"""Writing the files users care about without ever losing one.

Every writer of a user-facing file (converted checkpoints, exported students, workbooks,
drawings, label maps) goes through :func:`safe_write`: the content is written to a temporary
file beside the target, flushed, and renamed over it, so the target is complete or untouched;
an existing target keeps its permission bits; a failure removes the partial file and names the
path, the OS error and the fix.
"""
import contextlib
import errno
import os
import os.path as osp
import stat
import tempfile
from typing import Iterator

# errno -> what the user can do about it
_FIXES = {
    errno.ENOSPC: 'free some space on that disk or write somewhere else',
    errno.EDQUOT: 'free some of your quota or write somewhere else',
    errno.EROFS: 'the file system is read-only; write somewhere else',
    errno.EACCES: 'you may not write there; fix the permissions or write somewhere else',
    errno.EPERM: 'you may not write there; fix the permissions or write somewhere else',
    errno.EISDIR: 'that path is a folder; give a file name',
    errno.ENOTDIR: 'a part of that path is a file, not a folder',
}


class OutputWriteError(OSError):
    """A user-facing file could not be written; the message names the path and the fix."""


def _is_torch_write_failure(err: BaseException) -> bool:
    text = str(err)
    return isinstance(err, RuntimeError) and any(
        k in text for k in ('enforce fail', 'failed writing', 'PytorchStreamWriter'))


def describe_write_error(path: str, err: BaseException) -> str:
    """One sentence naming ``path``, the OS error and what to do."""
    code = getattr(err, 'errno', None)
    if code is None and _is_torch_write_failure(err):
        code = errno.ENOSPC  # torch's zip writer reports a full disk this way
    reason = os.strerror(code) if code else f'{type(err).__name__}: {err}'
    fix = _FIXES.get(code, 'check the path and the disk, then run again')
    return f'cannot write {path!r}: {reason}; {fix}. Nothing was overwritten.'


def _target_mode(path: str) -> int:
    """The permission bits the written file gets: the existing target's, else 0o666 - umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _sync_folder(folder: str) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot sync folders
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def safe_write(path: str, make_dirs: bool = True) -> Iterator[str]:
    """Yield a temporary path beside ``path`` (same suffix, so writers that pick the format
    from the extension work); on a clean exit rename it over ``path``.

    Example::

        with safe_write('student.pt') as tmp:
            torch.save(state, tmp)

    Raises :class:`OutputWriteError` (an ``OSError``) naming ``path`` if the folder, the write
    or the rename fails; the partial file is removed and an existing ``path`` is untouched.
    """
    path = osp.expanduser(path)
    if osp.isdir(path):
        raise OutputWriteError(errno.EISDIR, describe_write_error(path, IsADirectoryError(
            errno.EISDIR, 'Is a directory')))
    folder = osp.dirname(osp.abspath(path))
    suffix = osp.splitext(path)[1]
    try:
        if make_dirs:
            os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(path)}.', suffix=f'.tmp{suffix}')
        os.close(fd)
    except OSError as err:
        raise OutputWriteError(err.errno, describe_write_error(path, err)) from err
    mode = _target_mode(path)
    try:
        yield tmp
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if (isinstance(err, OSError) or _is_torch_write_failure(err)) and not isinstance(
                err, OutputWriteError):
            raise OutputWriteError(getattr(err, 'errno', None) or errno.EIO,
                                   describe_write_error(path, err)) from err
        raise
    _sync_folder(folder)


class OutputPathError(ValueError):
    """An output path that cannot work, found before any work is done."""


def _nearest_existing(folder: str) -> str:
    while folder and not osp.exists(folder):
        parent = osp.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


def _check_writable_folder(folder: str, flag: str, path: str) -> None:
    """``folder`` (or, if missing, the nearest existing folder above it, where it will be
    created) accepts a new file: probed with a real temporary file (read-only file systems
    and permissions alike)."""
    existing = _nearest_existing(folder)
    if not osp.isdir(existing):
        raise OutputPathError(f'{flag} {path!r}: {existing!r} is a file, not a folder; '
                              'give a path inside a folder')
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix='.write_test_')
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        raise OutputPathError(f'{flag} {path!r}: cannot write in {existing!r} '
                              f'({os.strerror(err.errno) if err.errno else err}); fix the '
                              'permissions or write somewhere else') from err


def check_output_file(path: str, suffixes, flag: str = '--out') -> str:
    """Before the work: ``path`` names a file (not a folder, not ending in ``/``) with one of
    ``suffixes`` (e.g. ``('.png', '.jpg')``), in a folder that exists or can be created and
    accepts files. Returns the path with ``~`` expanded; raises :class:`OutputPathError`."""
    path = osp.expanduser(path)
    shown = ', '.join(suffixes)
    if not path.strip():
        raise OutputPathError(f'{flag} is empty; give a file name ending in {shown}')
    if path.endswith(('/', os.sep)) or osp.isdir(path):
        raise OutputPathError(f'{flag} {path!r} is a folder; give a file name in it, e.g. '
                              f'{osp.join(path, "out" + suffixes[0])!r}')
    suffix = osp.splitext(path)[1].lower()
    if suffix not in suffixes:
        what = f'has the extension {suffix!r}' if suffix else 'has no extension'
        raise OutputPathError(f'{flag} {path!r} {what}; the file name must end in {shown} '
                              f'(e.g. {osp.splitext(path)[0] + suffixes[0]!r})')
    _check_writable_folder(osp.dirname(osp.abspath(path)), flag, path)
    return path


def check_output_folder(path: str, flag: str = '--show-dir') -> str:
    """Before the work: ``path`` is a folder, or can be created, and accepts files."""
    path = osp.expanduser(path)
    if not path.strip():
        raise OutputPathError(f'{flag} is empty; give a folder')
    if osp.exists(path) and not osp.isdir(path):
        raise OutputPathError(f'{flag} {path!r} is a file; give a folder')
    _check_writable_folder(osp.abspath(path), flag, path)
    return path
