"""Inputs a new user feeds the tools: tiny images, GIFs, CPUs without bf16 instructions (issue 9)."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO
from PIL import Image

from declip_mmseg.models.utils import cpu_amp


def run(args, check=True):
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS='2'))
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc


def clip_options(tiny_clip):
    arch, ckpt = tiny_clip
    return [f'model.backbone.model_name={arch}', f'model.backbone.pretrained={ckpt}']


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


def test_tiny_images_through_test_tool(tiny_clip, tiny_voc, tmp_path):
    show = tmp_path / 'show'
    proc = run([sys.executable, 'tools/test.py', 'configs/cfg_voc21.py', '--work-dir',
                str(tmp_path / 'w'), '--show-dir', str(show), '--cfg-options',
                *clip_options(tiny_clip), f'test_dataloader.dataset.data_root={tiny_voc}',
                'test_dataloader.num_workers=0'])
    out = proc.stdout + proc.stderr
    assert f'Iter(test) [{len(TINY_SIZES)}/{len(TINY_SIZES)}]' in out
    assert 'mIoU:' in out
    drawn = sorted(f for _, _, files in os.walk(show) for f in files if f.endswith('.png'))
    assert len(drawn) == len(TINY_SIZES)  # the drawings too, 1x1 included


def test_tiny_label_maps_keep_their_shape(tiny_voc):
    from mmseg.registry import TRANSFORMS

    import declip_mmseg  # noqa: F401
    load = TRANSFORMS.build(dict(type='LoadAnnotationsKeepShape'))
    for i, (h, w) in enumerate(TINY_SIZES):
        path = osp.join(tiny_voc, 'SegmentationClass', f'2007_{i:06d}.png')
        out = load(dict(seg_map_path=path, reduce_zero_label=False, seg_fields=[]))
        assert out['gt_seg_map'].shape == (h, w)
        assert np.array_equal(out['gt_seg_map'], np.array(Image.open(path)))


@pytest.fixture(scope='module')
def demo_model(tiny_clip):
    """tools/demo.py's model (configs/demo.py), built once for the demo cases."""
    from declip_mmseg.apis import OpenVocabInferencer
    return OpenVocabInferencer(osp.join(REPO, 'configs', 'demo.py'), classes='red; blue; green',
                               cfg_options=dict(a.split('=') for a in clip_options(tiny_clip)))


@pytest.mark.parametrize('size', [(1, 1), (3, 2), (1, 9)])
def test_tiny_image_through_demo(demo_model, tmp_path, size):
    from declip_mmseg.apis.inference import segment_and_draw
    path = tmp_path / 'dot.png'
    Image.new('RGB', size[::-1], (200, 30, 30)).save(path)
    found = segment_and_draw(demo_model, str(path), str(tmp_path / 'overlay.png'))
    assert found and set(found) <= {'red', 'blue', 'green'}
    drawn = np.array(Image.open(tmp_path / 'overlay.png'))
    assert drawn.shape[0] >= size[0] and drawn.shape[1] > size[1]


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


def test_demo_on_a_gif(tiny_clip, tmp_path):
    """The command line, end to end, on a GIF."""
    path = tmp_path / 'anim.gif'
    write_gif(str(path))
    out = tmp_path / 'overlay.png'
    proc = run([sys.executable, 'tools/demo.py', str(path), '--classes', 'red; blue; green',
                '--out', str(out), '--cfg-options', *clip_options(tiny_clip)])
    assert 'classes found' in proc.stdout
    drawn = np.array(Image.open(out))
    assert drawn.shape[0] >= 23 and drawn.shape[1] > 31


# -- CPU autocast speed ------------------------------------------------------------------------
AMX_XEON = dict(machine='x86_64', mkldnn=True, amx_bf16=True, avx512_bf16=True, amx_fp16=True,
                mkldnn_bf16=True, mkldnn_fp16=True)
EPYC_AVX2 = dict(machine='x86_64', mkldnn=True, amx_bf16=False, avx512_bf16=False,
                 amx_fp16=False, mkldnn_bf16=False, mkldnn_fp16=False)
AVX512_NO_BF16 = dict(EPYC_AVX2, mkldnn_bf16=True)  # e.g. Skylake-SP: bf16 emulated
GRAVITON3 = dict(EPYC_AVX2, machine='aarch64', mkldnn_bf16=True)


@pytest.mark.parametrize('features, dtype, fast', [
    (AMX_XEON, torch.bfloat16, True), (AMX_XEON, torch.float16, True),
    (EPYC_AVX2, torch.bfloat16, False), (EPYC_AVX2, torch.float16, False),
    (AVX512_NO_BF16, torch.bfloat16, False), (GRAVITON3, torch.bfloat16, True),
    (dict(AMX_XEON, mkldnn=False), torch.bfloat16, False)])
def test_cpu_amp_speed_rule(features, dtype, fast):
    assert cpu_amp.cpu_amp_is_fast(dtype, features)[0] is fast


def test_this_cpu_is_probed():
    features = cpu_amp.cpu_features()
    assert set(features) == set(AMX_XEON)
    flags = open('/proc/cpuinfo').read() if osp.exists('/proc/cpuinfo') else ''
    if ' avx512_bf16' in flags or ' amx_bf16' in flags:
        assert cpu_amp.cpu_amp_is_fast(torch.bfloat16)[0]
    elif ' avx2' in flags and ' avx512' not in flags:
        assert not cpu_amp.cpu_amp_is_fast(torch.bfloat16)[0]


def test_slow_cpu_amp_warns_once(tiny_clip, monkeypatch):
    from mmseg.registry import MODELS

    import declip_mmseg  # noqa: F401
    arch, ckpt = tiny_clip
    monkeypatch.setattr(cpu_amp, 'cpu_features', lambda: dict(EPYC_AVX2))  # the hardware probe
    monkeypatch.setattr(cpu_amp, '_WARNED', set())
    messages = []
    monkeypatch.setattr(cpu_amp, 'print_log', lambda msg, *a, **k: messages.append(msg))
    model = MODELS.build(dict(
        type='ZeroShotSegmentor', cpu_amp_dtype='bfloat16', slide_crop=32, slide_stride=16,
        backbone=dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt),
        text_classifier=dict(type='ZeroShotTextClassifier', class_names=['a', 'b'],
                             templates='name', cache_dir=False))).eval()
    for _ in range(2):
        model._forward(torch.randn(1, 3, 40, 48))
    assert len(messages) == 1
    assert "model.cpu_amp_dtype='bfloat16' will likely be SLOWER than fp32" in messages[0]
    assert 'no AMX or AVX512-BF16' in messages[0]
    monkeypatch.setattr(cpu_amp, 'cpu_features', lambda: dict(AMX_XEON))
    monkeypatch.setattr(cpu_amp, '_WARNED', set())
    model._forward(torch.randn(1, 3, 40, 48))
    assert len(messages) == 1  # fast hardware: no warning
