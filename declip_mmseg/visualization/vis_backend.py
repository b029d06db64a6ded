"""mmengine's local visualization backend writing through :func:`declip_mmseg.fileio.safe_write`
(``tools/test.py --show-dir``)."""
import errno
import os
import os.path as osp

import cv2
import numpy as np
from mmengine.visualization.vis_backend import LocalVisBackend, force_init_env
from mmseg.registry import VISBACKENDS

from ..fileio import safe_write


def _imwrite_failure(path: str) -> OSError:
    """OpenCV says only False; name the likely reason (a full disk is the common one)."""
    folder = osp.dirname(osp.abspath(path))
    try:
        full = os.statvfs(folder).f_bavail == 0
    except OSError:
        full = False
    if full:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if not os.access(folder, os.W_OK):
        return OSError(errno.EACCES, os.strerror(errno.EACCES))
    return OSError(errno.EIO, 'OpenCV could not write the image (disk full or unwritable?)')


@VISBACKENDS.register_module()
class SafeLocalVisBackend(LocalVisBackend):
    """``LocalVisBackend`` whose drawings (``<save_dir>/vis_image/<name>_<step>.png``) are
    written complete or not at all, and whose failed writes (a full disk, a read-only folder)
    stop the run with the path and the reason instead of being dropped silently (mmengine
    ignores ``cv2.imwrite`` returning False)."""

    @force_init_env
    def add_image(self, name: str, image: np.ndarray, step: int = 0, **kwargs) -> None:
        assert image.dtype == np.uint8
        path = osp.join(self._img_save_dir, f'{name}_{step}.png')
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        with safe_write(path) as tmp:
            try:
                written = cv2.imwrite(tmp, bgr)
            except cv2.error as err:
                raise OSError(errno.EIO, str(err).strip().splitlines()[-1]) from err
            if not written:
                raise _imwrite_failure(tmp)
