"""Geometry of sliding-window inference (pure functions, no model)."""
from typing import List, Tuple

Box = Tuple[int, int, int, int]  # y1, y2, x1, x2 in pixels


def window_boxes(height: int, width: int, crop: int, stride: int) -> List[Box]:
    """Windows covering an image, in row-major order.

    A window is ``crop`` pixels wide (less when the image is smaller) and
    windows start every ``stride`` pixels; the last row and column are shifted
    back to end on the border.  All windows of one image have the same size.
    """
    if crop <= 0 or stride <= 0:
        raise ValueError(f'slide_crop and slide_stride must be positive, got {crop}, {stride}')
    rows = max(height - crop + stride - 1, 0) // stride + 1
    cols = max(width - crop + stride - 1, 0) // stride + 1
    boxes = []
    for r in range(rows):
        for c in range(cols):
            y2 = min(r * stride + crop, height)
            x2 = min(c * stride + crop, width)
            boxes.append((max(y2 - crop, 0), y2, max(x2 - crop, 0), x2))
    return boxes


def centered_padding(height: int, width: int, multiple: int) -> Tuple[int, int, int, int]:
    """(left, right, top, bottom) zero padding up to a multiple of ``multiple``.

    The odd pixel goes to the right / bottom, as in ClearCLIP.
    """
    def split(size):
        extra = (-size) % multiple
        return extra // 2, extra - extra // 2
    left, right = split(width)
    top, bottom = split(height)
    return left, right, top, bottom
