"""Training checkpoints written like every other user-facing file (:mod:`declip_mmseg.fileio`).

mmengine's ``CheckpointHook`` saves ``epoch_N.pth`` / ``iter_N.pth`` through a file backend's
``put``; the local one opens the target and writes into it, so a full disk leaves a truncated
checkpoint that ``--resume`` later reports as corrupt. The training configs pass
``backend_args=dict(backend='safe_local')`` to the hook: the same local backend, but each file
is written beside the target and renamed (:func:`~declip_mmseg.fileio.safe_write`), and a failed
write stops training naming the path and the fix.
"""
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend

from ..fileio import safe_write


@register_backend('safe_local')
class SafeLocalBackend(LocalBackend):
    """:class:`mmengine.fileio.LocalBackend` whose writes are complete or absent."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        with safe_write(str(filepath)) as tmp, open(tmp, 'wb') as f:
            f.write(obj)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        with safe_write(str(filepath)) as tmp, open(tmp, 'w', encoding=encoding) as f:
            f.write(obj)
