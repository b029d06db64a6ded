"""visualization/overlay.py: legends in any script."""
import warnings

import numpy as np


def legend(names):
    from declip_mmseg.visualization import draw_overlay
    image = np.zeros((40, 40, 3), np.uint8)
    return draw_overlay(image, np.zeros((40, 40), np.int64), names)[:, 40:]


def test_legend_draws_umlauts_and_cjk_or_warns():
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # DejaVu (matplotlib's) covers umlauts: no warning
        a, o = legend(['Bär']), legend(['Bör'])
    assert a.shape == o.shape and (a != o).any()  # not the same box twice
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        cat, dog = legend(['猫']), legend(['狗'])
    drawn = cat.shape != dog.shape or (cat != dog).any()
    warned = any('fonts-noto-cjk' in str(w.message) and 'DECLIP_FONT' in str(w.message)
                 for w in caught)
    assert drawn or warned
