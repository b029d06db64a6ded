"""Image loading that reads what Pillow reads (GIF, TGA, ICO, ...), not only what OpenCV reads.

One reader, one rule, for every image the project reads (test pipeline, demo, drawings,
distillation and region datasets): :func:`read_image` decodes with OpenCV (mmcv's ``'color'``
flag) and falls back to Pillow; both apply the EXIF orientation (the photo as viewers show it),
take the first frame, and scale 16-bit images by 1/256.
"""
import io
from typing import Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS
from PIL import Image, ImageOps


def read_with_pillow(img_bytes: bytes, filename: str, color_type: str = 'color') -> np.ndarray:
    """Decode with Pillow: the first frame, (H, W, 3) uint8 in BGR order (mmcv's convention)
    or (H, W) for ``color_type='grayscale'``."""
    try:
        with Image.open(io.BytesIO(img_bytes)) as image:
            image.seek(0)  # animations (GIF, APNG, WebP): the first frame
            image = ImageOps.exif_transpose(image)  # as mmcv's default 'color' flag does
            if image.mode.startswith('I') or image.mode == 'F':
                grey = _grey_to_uint8(image)  # convert() would clip 16-bit grey to white
                if color_type == 'grayscale':
                    return grey
                return np.repeat(grey[:, :, None], 3, axis=2)
            if color_type == 'grayscale':
                return np.asarray(image.convert('L')).copy()
            return np.ascontiguousarray(np.asarray(image.convert('RGB'))[..., ::-1])
    except Exception as err:  # noqa: BLE001 - Pillow raises many types for undecodable data
        raise OSError(f'cannot read image {filename!r}: neither OpenCV nor Pillow can decode it '
                      f'({type(err).__name__}: {err}). Convert it to PNG or JPEG') from err


def _grey_to_uint8(image) -> np.ndarray:
    """Pillow's 16 / 32-bit integer and float grey modes scaled to uint8 as OpenCV scales
    16-bit images (value / 256); floats in [0, 1] times 255."""
    grey = np.asarray(image).astype(np.float64)
    if image.mode.startswith('I;16') or grey.max() > 255:
        grey = np.clip(grey, 0, 65535) / 256
    elif image.mode == 'F' and grey.max() <= 1.0:
        grey = grey * 255
    return np.clip(grey, 0, 255).astype(np.uint8)


def read_image(img_bytes: bytes, filename: str) -> np.ndarray:
    """(H, W, 3) uint8 BGR: OpenCV's decoding (mmcv), else Pillow's (RGB, first frame)."""
    try:
        img = mmcv.imfrombytes(img_bytes, flag='color')
    except Exception:  # noqa: BLE001 - cv2 raises on some undecodable data instead of None
        img = None
    return img if img is not None else read_with_pillow(img_bytes, filename)


def read_rgb(path: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file, decoded by :func:`read_image` (OSError if unreadable)."""
    with open(path, 'rb') as f:
        data = f.read()
    return np.ascontiguousarray(read_image(data, path)[..., ::-1])


def read_pil_rgb(path: str) -> Image.Image:
    """:func:`read_rgb` as a PIL RGB image (the Pillow-side datasets' input)."""
    return Image.fromarray(read_rgb(path), 'RGB')


@TRANSFORMS.register_module()
class LoadImageWithPillowFallback(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile``, falling back to Pillow (RGB, first frame) for files
    OpenCV cannot decode. Same arguments and outputs (``img``, ``img_shape``, ``ori_shape``)."""

    def transform(self, results: dict) -> Optional[dict]:
        try:
            out = super().transform(results)
        except Exception as err:  # noqa: BLE001 - OpenCV's "failed to load image" assertion
            first_error = err
        else:
            if out is not None:
                return out
            first_error = None  # ignore_empty: mmcv returned None
        filename = results['img_path']
        try:
            img_bytes = fileio.get(filename, backend_args=self.backend_args)
        except Exception:  # noqa: BLE001 - a missing file: keep mmcv's own error
            if first_error is None:
                return None
            raise first_error
        try:
            img = read_with_pillow(img_bytes, filename,
                                   'grayscale' if self.color_type == 'grayscale' else 'color')
        except OSError:
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadAnnotationsKeepShape(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` for label maps of any size.

    mmseg squeezes the decoded label map, which turns a 1 x 1 map into a scalar and a 1 x W or
    H x 1 map into a vector (``PixelData`` then fails with "The dim of value must be 2 or 3");
    here the map keeps its (H, W) shape.
    """

    def _load_seg_map(self, results: dict) -> None:
        super()._load_seg_map(results)
        label = results['gt_seg_map']
        if label.ndim != 2:  # squeezed away a size-1 side: restore it from the file's header
            img_bytes = fileio.get(results['seg_map_path'], backend_args=self.backend_args)
            with Image.open(io.BytesIO(img_bytes)) as image:
                width, height = image.size
            results['gt_seg_map'] = label.reshape(height, width)
