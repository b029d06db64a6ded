"""datasets/transforms/loading.py: 16-bit grey, tiny images and label maps, GIFs, undecodable files."""
import os.path as osp

import numpy as np
import pytest
from PIL import Image


# -- tools/demo.py ------------------------------------------------------------------------------
def test_sixteen_bit_grey_image_keeps_its_grey(tmp_path):
    from declip_mmseg.visualization import read_rgb
    grey = np.full((20, 30), 30000, np.uint16)
    grey[:, :10] = 5000
    Image.fromarray(grey).save(tmp_path / 'grey16.png')
    assert Image.open(tmp_path / 'grey16.png').mode.startswith('I')
    rgb = read_rgb(str(tmp_path / 'grey16.png'))
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8
    assert abs(int(rgb[0, 20, 0]) - 30000 // 256) <= 1 and abs(int(rgb[0, 0, 0]) - 5000 // 256) <= 1


# -- tiny images -----------------------------------------------------------------------------
TINY_SIZES = [(1, 1), (1, 7), (5, 1), (2, 3), (6, 9)]


def write_tiny_voc(root):
    """A VOC layout whose images are 1x1, 1x7, 5x1 and 2x3 pixels, and a 6x9 GIF named .jpg
    (a file OpenCV cannot decode)."""
    from declip_mmseg.testing.synthetic_data import VOC_PALETTE
    ids = []
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(TINY_SIZES):
        ids.append(f'2007_{i:06d}')
        img = rng.integers(0, 255, (h, w, 3)).astype(np.uint8)
        label = rng.integers(0, 21, (h, w)).astype(np.uint8)
        Image.fromarray(img).save(osp.join(root, 'JPEGImages', f'{ids[-1]}.jpg'),
                                  format='GIF' if (h, w) == (6, 9) else 'JPEG')
        seg = Image.fromarray(label)
        seg.putpalette(VOC_PALETTE * 4)
        seg.save(osp.join(root, 'SegmentationClass', f'{ids[-1]}.png'))
    with open(osp.join(root, 'ImageSets', 'Segmentation', 'val.txt'), 'w') as f:
        f.write('\n'.join(ids) + '\n')


@pytest.fixture
def tiny_voc(tmp_path):
    root = tmp_path / 'VOC2012'
    for sub in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        (root / sub).mkdir(parents=True)
    write_tiny_voc(str(root))
    return str(root)


def test_tiny_label_maps_keep_their_shape(tiny_voc):
    from mmseg.registry import TRANSFORMS

    import declip_mmseg  # noqa: F401
    load = TRANSFORMS.build(dict(type='LoadAnnotationsKeepShape'))
    for i, (h, w) in enumerate(TINY_SIZES):
        path = osp.join(tiny_voc, 'SegmentationClass', f'2007_{i:06d}.png')
        out = load(dict(seg_map_path=path, reduce_zero_label=False, seg_fields=[]))
        assert out['gt_seg_map'].shape == (h, w)
        assert np.array_equal(out['gt_seg_map'], np.array(Image.open(path)))


# -- formats OpenCV cannot read ------------------------------------------------------------------
def write_gif(path, size=(23, 31)):
    """A 2-frame GIF: the first frame red left / blue right, the second all green."""
    h, w = size
    first = np.zeros((h, w, 3), np.uint8)
    first[:, : w // 2] = (255, 0, 0)
    first[:, w // 2:] = (0, 0, 255)
    second = np.full((h, w, 3), (0, 255, 0), np.uint8)
    frames = [Image.fromarray(a).convert('P', palette=Image.ADAPTIVE) for a in (first, second)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return first


def test_gif_falls_back_to_pillow(tmp_path):
    import cv2
    from mmseg.registry import TRANSFORMS

    import declip_mmseg  # noqa: F401
    path = str(tmp_path / 'anim.gif')
    first = write_gif(path)
    assert cv2.imread(path) is None  # the case: OpenCV cannot decode it
    load = TRANSFORMS.build(dict(type='LoadImageWithPillowFallback'))
    out = load(dict(img_path=path))
    assert out['img'].shape == (23, 31, 3) and out['img'].dtype == np.uint8
    assert np.array_equal(out['img'], first[..., ::-1])  # BGR, the first frame
    assert out['img_shape'] == out['ori_shape'] == (23, 31)
    as_float = TRANSFORMS.build(dict(type='LoadImageWithPillowFallback', to_float32=True))
    assert as_float(dict(img_path=path))['img'].dtype == np.float32
    # OpenCV-readable files take OpenCV's path unchanged
    Image.fromarray(first).save(tmp_path / 'same.png')
    reference = TRANSFORMS.build(dict(type='LoadImageFromFile'))(
        dict(img_path=str(tmp_path / 'same.png')))['img']
    assert np.array_equal(load(dict(img_path=str(tmp_path / 'same.png')))['img'], reference)


def test_undecodable_file_names_the_file_and_the_fix(tmp_path):
    from mmseg.registry import TRANSFORMS

    import declip_mmseg  # noqa: F401
    path = tmp_path / 'broken.jpg'
    path.write_bytes(b'this is no image')
    load = TRANSFORMS.build(dict(type='LoadImageWithPillowFallback'))
    with pytest.raises(OSError, match=r"broken\.jpg.*neither OpenCV nor Pillow.*PNG or JPEG"):
        load(dict(img_path=str(path)))
    with pytest.raises(FileNotFoundError):
        load(dict(img_path=str(tmp_path / 'missing.jpg')))
