"""apis/test.py through tools/test.py: tiny images, drawings, vocabularies, clear errors."""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from declip_mmseg.datasets.converters.coco_object import convert_coco_object
from declip_mmseg.testing.synthetic_data import LAYOUTS, make_voc


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


def test_tiny_images_through_test_tool(tiny_clip, tiny_voc, tmp_path, run_tool):
    show = tmp_path / 'show'
    proc = run_tool('test', ['configs/cfg_voc21.py', '--work-dir',
                str(tmp_path / 'w'), '--show-dir', str(show), '--cfg-options',
                *clip_options(tiny_clip), f'test_dataloader.dataset.data_root={tiny_voc}',
                'test_dataloader.num_workers=0'])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    out = proc.stdout + proc.stderr
    assert f'Iter(test) [{len(TINY_SIZES)}/{len(TINY_SIZES)}]' in out
    assert 'mIoU:' in out
    drawn = sorted(f for _, _, files in os.walk(show) for f in files if f.endswith('.png'))
    assert len(drawn) == len(TINY_SIZES)  # the drawings too, 1x1 included




def tiny_options(tiny_clip, data_root):
    arch, ckpt = tiny_clip
    return ['--cfg-options', f'model.backbone.model_name={arch}',
            f'model.backbone.pretrained={ckpt}', f'test_dataloader.dataset.data_root={data_root}',
            'test_dataloader.num_workers=0']


def prepare(name, tmp_path):
    maker, rel = LAYOUTS[name]
    root = str(tmp_path / 'data' / rel)
    maker(root)
    if name == 'coco_object':
        convert_coco_object(root, splits=['val2017'])
    return root


def test_show_dir_writes_drawings(tiny_clip, tmp_path, run_tool):
    root = prepare('voc21', tmp_path)
    show = tmp_path / 'show'
    proc = run_tool('test', ['configs/cfg_voc21.py', '--work-dir',
         str(tmp_path / 'w'), '--show-dir', str(show)] + tiny_options(tiny_clip, root))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    drawn = [f for _, _, files in os.walk(show) for f in files if f.endswith(('.png', '.jpg'))]
    assert len(drawn) == 3


def test_custom_vocabulary_on_the_command_line(tiny_clip, tmp_path, run_tool):
    root = prepare('voc20', tmp_path)
    names = tmp_path / 'names.txt'
    names.write_text('\n'.join(f'thing {i}; item {i}' for i in range(20)))
    proc = run_tool('test', ['configs/cfg_voc20.py', '--classes', str(names),
                '--work-dir', str(tmp_path / 'w')] + tiny_options(tiny_clip, root))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert 'encoding 40 class names' in proc.stdout + proc.stderr
    names.write_text('cat\n\ndog')
    proc = run_tool('test', ['configs/cfg_voc20.py', '--classes', str(names),
                '--work-dir', str(tmp_path / 'w')] + tiny_options(tiny_clip, root))
    assert proc.returncode != 0 and f'{names}, line 2: empty line' in proc.stderr


def test_missing_and_empty_datasets_are_clear_errors(tiny_clip, tmp_path, run_tool):
    proc = run_tool('test', ['configs/cfg_ade20k.py', '--work-dir',
                str(tmp_path / 'w')] + tiny_options(tiny_clip, str(tmp_path / 'nowhere')))
    assert proc.returncode != 0
    assert "nowhere/images/validation' of ADE20KDataset does not exist" in proc.stderr
    root = make_voc(str(tmp_path / 'voc'), n=1)
    open(osp.join(root, 'ImageSets/Segmentation/val.txt'), 'w').close()
    proc = run_tool('test', ['configs/cfg_voc21.py', '--work-dir',
                str(tmp_path / 'w')] + tiny_options(tiny_clip, root))
    assert proc.returncode != 0 and 'The test set of PascalVOCDataset is empty' in proc.stderr


def test_wrong_checkpoint_is_a_clear_error(tiny_clip, tmp_path, run_tool):
    root = prepare('voc20', tmp_path)
    proc = run_tool('test', ['configs/cfg_voc20.py', '--checkpoint',
                str(tmp_path / 'missing.pt'), '--work-dir', str(tmp_path / 'w')]
               + tiny_options(tiny_clip, root)[:2] + tiny_options(tiny_clip, root)[3:])
    assert proc.returncode != 0 and 'missing.pt' in proc.stderr and 'does not exist' in proc.stderr


# -- round two: output paths before the work, a full disk under --show-dir ------------------
def test_show_dir_on_a_full_disk_is_an_error(tiny_clip, tmp_path, run_tool, monkeypatch):
    """OpenCV answers a failed write (full disk) with False; mmengine ignored it and the run
    passed with no drawings. Now the run stops naming the drawing and the reason."""
    import cv2
    root = prepare('voc21', tmp_path)
    monkeypatch.setattr(cv2, 'imwrite', lambda *a, **k: False)
    monkeypatch.setattr(os, 'statvfs', lambda p: type('S', (), {'f_bavail': 0})())
    proc = run_tool('test', ['configs/cfg_voc21.py', '--work-dir', str(tmp_path / 'w'),
                             '--show-dir', str(tmp_path / 'show')] + tiny_options(tiny_clip, root))
    assert proc.returncode != 0
    assert 'cannot write' in proc.stderr and 'vis_image' in proc.stderr
    assert 'No space left on device' in proc.stderr
    drawn = [f for _, _, files in os.walk(tmp_path / 'show') for f in files if 'png' in f]
    assert drawn == []  # no partial drawings left behind


def test_show_dir_that_is_a_file_is_refused_before_the_work(tiny_clip, tmp_path, run_tool):
    root = prepare('voc21', tmp_path)
    (tmp_path / 'show').write_text('not a folder')
    proc = run_tool('test', ['configs/cfg_voc21.py', '--work-dir', str(tmp_path / 'w'),
                             '--show-dir', str(tmp_path / 'show')] + tiny_options(tiny_clip, root))
    assert proc.returncode != 0 and f"--show-dir '{tmp_path}/show' is a file" in proc.stderr
    assert 'Iter(test)' not in proc.stdout + proc.stderr


def test_non_finite_checkpoint_is_refused_by_the_test_tool(tiny_clip, tmp_path, run_tool):
    import torch
    arch, ckpt = tiny_clip
    root = prepare('voc20', tmp_path)
    state = torch.load(ckpt, weights_only=True)
    state['visual.proj'] = state['visual.proj'].clone()
    state['visual.proj'][0, 0] = float('nan')
    bad = str(tmp_path / 'nan.pt')
    torch.save(state, bad)
    proc = run_tool('test', ['configs/cfg_voc20.py', '--checkpoint', bad, '--work-dir',
                             str(tmp_path / 'w')] + tiny_options(tiny_clip, root)[:2]
                    + tiny_options(tiny_clip, root)[3:])
    assert proc.returncode != 0
    assert f"CLIP checkpoint '{bad}': tensor 'visual.proj'" in proc.stderr and 'NaN' in proc.stderr
    assert 'Iter(test)' not in proc.stdout + proc.stderr  # nothing was evaluated
