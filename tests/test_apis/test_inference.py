"""apis/inference.py through tools/demo.py: overlays, tiny images, GIFs, 16-bit grey."""
import errno
import os
import os.path as osp
import warnings

import numpy as np
import pytest
from PIL import Image

from declip_mmseg.testing.tools import REPO


def test_demo_model_flag_progress_and_16_bit_background(tiny_clip, tmp_path, run_tool):
    """--model, progress lines, and a 16-bit grey PNG whose overlay background stays grey."""
    arch, ckpt = tiny_clip
    grey = np.full((61, 95), 30000, np.uint16)
    Image.fromarray(grey).save(tmp_path / 'grey16.png')
    out = tmp_path / 'overlay.png'
    proc = run_tool('demo', [str(tmp_path / 'grey16.png'), '--classes',
                'cat; dog', '--model', arch, '--checkpoint', ckpt, '--out', str(out),
                '--alpha', '0'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'building the model' in proc.stdout and 'segmenting' in proc.stdout
    assert 'windows 3/3' in proc.stdout, proc.stdout
    background = np.asarray(Image.open(out))[:61, :95]
    assert np.abs(background.astype(int) - 30000 // 256).max() <= 1  # not white (255)




def clip_options(tiny_clip):
    arch, ckpt = tiny_clip
    return [f'model.backbone.model_name={arch}', f'model.backbone.pretrained={ckpt}']


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


def test_demo_on_a_gif(tiny_clip, tmp_path, run_tool):
    """The command line, end to end, on a GIF."""
    path = tmp_path / 'anim.gif'
    write_gif(str(path))
    out = tmp_path / 'overlay.png'
    proc = run_tool('demo', [str(path), '--classes', 'red; blue; green',
                '--out', str(out), '--cfg-options', *clip_options(tiny_clip)])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert 'classes found' in proc.stdout
    drawn = np.array(Image.open(out))
    assert drawn.shape[0] >= 23 and drawn.shape[1] > 31




def test_demo_overlay(tiny_clip, tmp_path, run_tool):
    arch, ckpt = tiny_clip
    img = (np.random.default_rng(0).random((61, 95, 3)) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / 'photo.jpg')
    out = tmp_path / 'overlay.png'
    proc = run_tool('demo', [str(tmp_path / 'photo.jpg'), '--classes',
                'cat; dog, puppy; grass', '--out', str(out), '--cfg-options',
                f'model.backbone.model_name={arch}', f'model.backbone.pretrained={ckpt}'])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert 'classes found' in proc.stdout
    drawn = np.array(Image.open(out))
    assert drawn.shape[0] >= 61 and drawn.shape[1] > 95  # image plus legend
    proc = run_tool('demo', [str(tmp_path / 'nope.jpg'), '--classes', 'a'])
    assert proc.returncode != 0 and 'nope.jpg' in proc.stderr


# -- round two: one class with synonyms, output paths before the work, full disks ---------------
def test_one_class_with_synonyms_warns_that_semicolons_separate_classes(demo_model):
    from declip_mmseg.text import ClassNameWarning
    with pytest.warns(ClassNameWarning, match=r"ONE class with 3 synonyms.*';' separates classes"
                      r".*'cat; dog; grass'"):
        demo_model.set_classes('cat, dog, grass')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        demo_model.set_classes('red; blue; green')


@pytest.mark.parametrize('out, message', [('results/', 'is a folder'),
                                          ('overlay', 'has no extension'),
                                          ('overlay.txt', "extension '.txt'")])
def test_demo_checks_out_before_the_work(tiny_clip, tmp_path, run_tool, out, message):
    arch, ckpt = tiny_clip
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / 'photo.png')
    proc = run_tool('demo', [str(tmp_path / 'photo.png'), '--classes', 'cat; dog',
                             '--model', arch, '--checkpoint', ckpt, '--out', f'{tmp_path}/{out}'])
    assert proc.returncode != 0 and message in proc.stderr
    assert 'building the model' not in proc.stdout  # refused before the model was built


def test_demo_refuses_an_empty_checkpoint_and_bad_alpha(tiny_clip, tmp_path, run_tool):
    arch, _ = tiny_clip
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / 'photo.png')
    base = [str(tmp_path / 'photo.png'), '--classes', 'cat; dog', '--model', arch,
            '--out', str(tmp_path / 'o.png')]
    proc = run_tool('demo', base + ['--checkpoint', ''])
    assert proc.returncode != 0 and 'empty weight source' in proc.stderr
    proc = run_tool('demo', base + ['--alpha', '50'])
    assert proc.returncode != 0 and '--alpha=50.0: a fraction' in proc.stderr
    proc = run_tool('demo', base + ['--prob-thd', '30'])
    assert proc.returncode != 0 and 'model.prob_thd=30.0' in proc.stderr


def test_overlay_on_a_full_disk_keeps_the_old_file(demo_model, tmp_path, monkeypatch):
    from PIL import Image as PILImage

    from declip_mmseg.fileio import OutputWriteError
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / 'photo.png')
    result = demo_model(str(tmp_path / 'photo.png'))
    out = tmp_path / 'overlay.png'
    out.write_bytes(b'the previous overlay')

    def full_disk(self, fp, *args, **kwargs):
        open(fp, 'wb').write(b'\x89PNG partial')
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(PILImage.Image, 'save', full_disk)
    with pytest.raises(OutputWriteError, match='overlay.png.*No space left'):
        demo_model.draw(result, str(out))
    assert out.read_bytes() == b'the previous overlay' and sorted(os.listdir(tmp_path)) == [
        'overlay.png', 'photo.png']
