"""Bad inputs a new user gives: each must be a clear error naming the file or setting and the
fix, or be handled correctly (issue 10, and issue 9's workbook race and label-size cases)."""
import multiprocessing
import os
import os.path as osp
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from conftest import REPO, TINY_ARCH, write_tiny_clip
from PIL import Image
from synthetic_data import make_voc

from declip_mmseg.text import ClassNameError, ClassNameWarning, load_vocabulary, read_class_names


def run(args, env=None, **kw):
    full_env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='2')
    full_env.update(env or {})
    return subprocess.run(args, cwd=kw.pop('cwd', REPO), env=full_env, capture_output=True,
                          text=True, **kw)


# -- vocabularies -----------------------------------------------------------------------------
@pytest.mark.parametrize('spec', ['mynames.lst', 'names.txt', 'classes.csv', 'nowhere/names',
                                  './names', '~/no_such_declip_names.txt', 'data\\names'])
def test_missing_class_file_is_an_error(spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        load_vocabulary(spec)
    assert repr(spec) in str(err.value) and 'does not exist' in str(err.value)


def test_class_file_that_is_a_directory(tmp_path, monkeypatch):
    (tmp_path / 'mynames.lst').mkdir()
    (tmp_path / 'names').mkdir()
    monkeypatch.chdir(tmp_path)
    for spec in ('mynames.lst', str(tmp_path / 'names'), 'names'):
        with pytest.raises(IsADirectoryError, match='directory'):
            load_vocabulary(spec)


def test_inline_vocabulary_stays_possible(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_vocabulary('cat; dog, puppy; grass').classes == (
        ('cat',), ('dog', 'puppy'), ('grass',))
    assert load_vocabulary('person, people').classes == (('person', 'people'),)
    assert load_vocabulary('sky').classes == (('sky',),)
    assert load_vocabulary('e.coli;').classes == (('e.coli',),)  # a file-like name, made inline
    with pytest.warns(ClassNameWarning, match='names.txt'):
        assert load_vocabulary('names.txt; dog').num_classes == 2


def test_mixed_separators_warn_and_follow_the_file_rule(tmp_path):
    path = tmp_path / 'mixed.txt'
    path.write_text('cat; kitty\ndog, puppy\nbird\n', encoding='utf-8')
    with pytest.warns(ClassNameWarning) as record:
        vocab = read_class_names(str(path))
    message = str(record[0].message)
    assert str(path) in message and "line 2 'dog, puppy'" in message and "write ';'" in message
    assert vocab.classes == (('cat', 'kitty'), ('dog, puppy',), ('bird',))
    path.write_text('cat, kitty\ndog, puppy\n', encoding='utf-8')  # one separator: no warning
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert read_class_names(str(path)).classes == (('cat', 'kitty'), ('dog', 'puppy'))


def test_byte_order_marks(tmp_path):
    path = tmp_path / 'bom.txt'
    path.write_bytes('\ufeffcat; kitty\ndog\n'.encode('utf-8'))
    assert read_class_names(str(path)).classes == (('cat', 'kitty'), ('dog',))
    path.write_bytes('Möwe\n猫\n'.encode('utf-16'))  # Windows "Unicode" text
    assert read_class_names(str(path)).classes == (('Möwe',), ('猫',))
    assert load_vocabulary('\ufeffcat; dog').classes[0] == ('cat',)


def test_non_utf8_class_file_names_the_file(tmp_path):
    path = tmp_path / 'latin1.txt'
    path.write_bytes('cat\nMöwe\n'.encode('latin-1'))
    with pytest.raises(ClassNameError) as err:
        read_class_names(str(path))
    assert str(path) in str(err.value) and 'UTF-8' in str(err.value) and 'line 2' in str(err.value)
    binary = tmp_path / 'photo.txt'
    binary.write_bytes(b'cat\x00\x00\x01')
    with pytest.raises(ClassNameError, match='binary'):
        read_class_names(str(binary))


def test_vocabulary_size_must_match_the_dataset(tiny_clip, tmp_path):
    from declip_mmseg.apis.test import load_test_config, run_test
    arch, ckpt = tiny_clip
    root = make_voc(str(tmp_path / 'voc'), n=1)
    options = {'model.backbone.model_name': arch, 'model.backbone.pretrained': ckpt,
               'test_dataloader.dataset.data_root': root, 'test_dataloader.num_workers': 0}
    for classes, count in (('cat;dog', 2), ('; '.join(f'c{i}' for i in range(25)), 25)):
        cfg = load_test_config(osp.join(REPO, 'configs/cfg_voc21.py'), class_names=classes,
                               work_dir=str(tmp_path / 'w'), cfg_options=options)
        with pytest.raises(ValueError) as err:
            run_test(cfg)
        assert f'has {count} classes' in str(err.value) and 'has 21' in str(err.value)


# -- datasets -----------------------------------------------------------------------------------
def voc_cfg(root):
    return dict(type='PascalVOCDataset', data_root=root,
                data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                ann_file='ImageSets/Segmentation/val.txt')


def test_listed_files_missing_on_disk_are_all_named(tmp_path):
    from declip_mmseg.apis.checks import check_test_dataset
    root = make_voc(str(tmp_path / 'voc'), n=4)
    os.remove(osp.join(root, 'JPEGImages', '2007_000001.jpg'))
    os.remove(osp.join(root, 'JPEGImages', '2007_000003.jpg'))
    os.remove(osp.join(root, 'SegmentationClass', '2007_000002.png'))
    with pytest.raises(FileNotFoundError) as err:
        check_test_dataset(voc_cfg(root))
    msg = str(err.value)
    assert '2 of 4 images' in msg and '2007_000001.jpg' in msg and '2007_000003.jpg' in msg
    assert '1 of 4 label maps' in msg and '2007_000002.png' in msg and 'val.txt' in msg


def test_split_file_with_empty_image_folder(tmp_path):
    from declip_mmseg.apis.checks import check_test_dataset
    root = make_voc(str(tmp_path / 'voc'), n=3)
    for name in os.listdir(osp.join(root, 'JPEGImages')):
        os.remove(osp.join(root, 'JPEGImages', name))
    with pytest.raises(FileNotFoundError, match=r'none of the 3 images .*holds 0 files'):
        check_test_dataset(voc_cfg(root))


def sample(pred, label, name='2007_000000'):
    from mmengine.structures import PixelData
    return {'pred_sem_seg': PixelData(data=torch.as_tensor(pred)[None]).to_dict(),
            'gt_sem_seg': PixelData(data=torch.as_tensor(label)[None]).to_dict(),
            'img_path': f'JPEGImages/{name}.jpg', 'seg_map_path': f'SegmentationClass/{name}.png'}


def voc_metric():
    from declip_mmseg.evaluation import PerClassIoUMetric
    metric = PerClassIoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=[f'c{i}' for i in range(21)])
    return metric


def test_label_values_outside_the_classes_are_counted(capfd):
    from mmengine.logging import MMLogger
    MMLogger.get_instance('bad_labels_test', log_level='INFO')
    metric = voc_metric()
    label = np.zeros((6, 8), np.int64)
    label[0, :3] = 77
    label[1, :2] = 255  # the ignore index is fine
    metric.process({}, [sample(np.zeros((6, 8), np.int64), label, 'a'),
                        sample(np.zeros((6, 8), np.int64), np.zeros((6, 8), np.int64), 'b')])
    metric.compute_metrics(metric.results)
    out = capfd.readouterr()
    text = out.out + out.err
    assert '1 of 2 label maps hold 3 pixels' in text and 'values [77]' in text
    assert 'SegmentationClass/a.png' in text and text.count('label maps hold') == 1


def test_label_map_of_another_size_names_both_files():
    metric = voc_metric()
    with pytest.raises(ValueError) as err:
        metric.process({}, [sample(np.zeros((6, 8), np.int64), np.zeros((5, 8), np.int64))])
    msg = str(err.value)
    assert 'SegmentationClass/2007_000000.png' in msg and 'JPEGImages/2007_000000.jpg' in msg
    assert '8 x 5' in msg and '8 x 6' in msg


# -- checkpoints --------------------------------------------------------------------------------
def test_file_of_another_width_names_its_architecture(tiny_clip, tmp_path):
    from declip_mmseg.clip import build_clip
    arch, _ = tiny_clip
    wider = dict(TINY_ARCH, text_cfg=dict(TINY_ARCH['text_cfg'], width=48))
    _, other = write_tiny_clip(str(tmp_path), name='WiderText-Test', arch=wider)
    with pytest.raises(RuntimeError) as err:
        build_clip(arch, other)
    msg = str(err.value)
    assert other in msg and 'text tower width 48' in msg and 'TinyCLIP-Test' in msg


def fake_checkpoint(path, model_name):
    """A file with the shapes (not the size) of an open_clip architecture: every tensor the
    architecture reader looks at, blocks as 1-element tensors."""
    import open_clip
    cfg = open_clip.get_model_config(model_name)
    v, t = cfg['vision_cfg'], cfg['text_cfg']
    grid = v['image_size'] // v['patch_size']
    sd = {'visual.conv1.weight': torch.zeros(v['width'], 3, v['patch_size'], v['patch_size']),
          'visual.positional_embedding': torch.zeros(grid * grid + 1, v['width']),
          'visual.proj': torch.zeros(v['width'], cfg['embed_dim']),
          'positional_embedding': torch.zeros(t['context_length'], t['width']),
          'token_embedding.weight': torch.zeros(1, t['width']),
          'text_projection': torch.zeros(t['width'], cfg['embed_dim'])}
    sd.update({f'visual.transformer.resblocks.{i}.ln_1.weight': torch.zeros(1)
               for i in range(v['layers'])})
    sd.update({f'transformer.resblocks.{i}.ln_1.weight': torch.zeros(1)
               for i in range(t['layers'])})
    torch.save(sd, path)


def test_vit_l14_file_for_a_vit_b16_config(tmp_path):
    from declip_mmseg.clip import build_clip
    path = str(tmp_path / 'ViT-L-14.pt')
    fake_checkpoint(path, 'ViT-L-14')
    with pytest.raises(RuntimeError) as err:
        build_clip('ViT-B-16', path)
    msg = str(err.value)
    assert path in msg and 'holds a ViT-L-14 CLIP' in msg and "model_name is 'ViT-B-16'" in msg
    assert "model_name='ViT-L-14'" in msg and '--model ViT-L-14' in msg


def test_training_checkpoint_points_to_the_exported_student(tiny_eva, tmp_path):
    """The distiller's own mmengine checkpoint, in the layout mmengine's Runner writes."""
    from mmengine.logging import MessageHub
    from mmseg.registry import MODELS

    from declip_mmseg.clip import build_clip
    arch, ckpt = tiny_eva
    distiller = MODELS.build(dict(type='DeCLIPDistiller', student=dict(
        type='DeCLIPViT', model_name=arch, pretrained=ckpt, attn_mode='csa')))
    hub = MessageHub.get_instance('bad_input_train')
    hub.update_scalar('train/loss', 1.5)
    path = str(tmp_path / 'epoch_5.pth')
    torch.save({'meta': {'epoch': 5, 'iter': 10}, 'state_dict': distiller.state_dict(),
                'message_hub': hub.state_dict(), 'optimizer': {'state': {}, 'param_groups': []}},
               path)
    for trusted in ('0', '1'):
        os.environ['DECLIP_TRUSTED_CHECKPOINTS'] = trusted
        try:
            with pytest.raises(RuntimeError) as err:
                build_clip(arch, path)
        finally:
            os.environ.pop('DECLIP_TRUSTED_CHECKPOINTS')
        msg = str(err.value)
        assert path in msg and 'training checkpoint of the DeCLIP distiller' in msg
        assert osp.join(str(tmp_path), 'declip_student.pt') in msg and 'download' not in msg


# -- eval_all's workbook ------------------------------------------------------------------------
def _append_many(path, worker, count):
    from declip_mmseg.apis.eval_all import append_results
    for i in range(count):
        append_results(path, [dict(config=f'w{worker}_{i}', mIoU=float(i))],
                       [dict(config=f'w{worker}_{i}', IoU=1.0)])


def test_concurrent_appends_lose_nothing(tmp_path):
    from openpyxl import load_workbook
    path = str(tmp_path / 'results.xlsx')
    ctx = multiprocessing.get_context('fork')  # the parent has imported everything already
    procs = [ctx.Process(target=_append_many, args=(path, w, 6)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert all(p.exitcode == 0 for p in procs)
    rows = list(load_workbook(path)['results'].values)
    assert len(rows) == 1 + 24
    assert sorted(r[1] for r in rows[1:]) == sorted(f'w{w}_{i}' for w in range(4) for i in range(6))
    assert [f for f in os.listdir(tmp_path) if 'tmp' in f] == []


def test_unreadable_or_unwritable_out_is_refused_before_any_work(tmp_path):
    from declip_mmseg.apis.eval_all import WorkbookError, append_results, evaluate_all
    broken = tmp_path / 'results.xlsx'
    broken.write_bytes(b'PK\x03\x04 not really a workbook')
    logged = []
    with pytest.raises(WorkbookError, match='results.xlsx.*not a readable .xlsx.*left untouched'):
        evaluate_all(['configs/cfg_voc20.py'], out=str(broken), log=logged.append)
    assert logged == []  # nothing was evaluated
    with pytest.raises(WorkbookError):
        append_results(str(broken), [dict(config='x')], [])
    assert broken.read_bytes() == b'PK\x03\x04 not really a workbook'  # never overwritten
    blocker = tmp_path / 'file'
    blocker.write_text('')
    for out in (str(blocker / 'results.xlsx'), str(tmp_path), str(tmp_path / 'results.csv')):
        with pytest.raises(WorkbookError, match='--out'):
            evaluate_all(['configs/cfg_voc20.py'], out=out, log=logged.append)
    assert logged == []


def test_finished_results_survive_a_workbook_broken_mid_run(tiny_clip, tmp_path):
    from openpyxl import load_workbook

    from declip_mmseg.apis.eval_all import WorkbookError, evaluate_all
    arch, ckpt = tiny_clip
    root = make_voc(str(tmp_path / 'voc'), n=1)
    out = tmp_path / 'results.xlsx'

    def log(line):  # another program breaks the workbook while the config is evaluated
        if line.endswith('cfg_voc20'):
            out.write_bytes(b'broken')

    work = tmp_path / 'work'
    with pytest.raises(WorkbookError) as err:
        evaluate_all([osp.join(REPO, 'configs/cfg_voc20.py')], out=str(out), work_dir=str(work),
                     cfg_options={'model.backbone.model_name': arch,
                                  'model.backbone.pretrained': ckpt,
                                  'test_dataloader.dataset.data_root': root,
                                  'test_dataloader.num_workers': 0}, log=log)
    kept = [f for f in os.listdir(work) if f.endswith('.xlsx')]
    assert len(kept) == 1 and str(work / kept[0]) in str(err.value)
    rows = list(load_workbook(work / kept[0])['results'].values)
    assert rows[1][1] == 'cfg_voc20.py' and 0 <= rows[1][rows[0].index('mIoU')] <= 100
    assert out.read_bytes() == b'broken'


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


def test_demo_model_flag_progress_and_16_bit_background(tiny_clip, tmp_path):
    """--model, progress lines, and a 16-bit grey PNG whose overlay background stays grey."""
    arch, ckpt = tiny_clip
    grey = np.full((61, 95), 30000, np.uint16)
    Image.fromarray(grey).save(tmp_path / 'grey16.png')
    out = tmp_path / 'overlay.png'
    proc = run([sys.executable, 'tools/demo.py', str(tmp_path / 'grey16.png'), '--classes',
                'cat; dog', '--model', arch, '--checkpoint', ckpt, '--out', str(out),
                '--alpha', '0'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'building the model' in proc.stdout and 'segmenting' in proc.stdout
    assert 'windows 3/3' in proc.stdout, proc.stdout
    background = np.asarray(Image.open(out))[:61, :95]
    assert np.abs(background.astype(int) - 30000 // 256).max() <= 1  # not white (255)


def test_demo_offline_says_so_in_one_line(tmp_path):
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / 'photo.jpg')
    proc = run([sys.executable, 'tools/demo.py', str(tmp_path / 'photo.jpg'), '--classes',
                'cat; dog', '--out', str(tmp_path / 'o.png')], timeout=120,
               env={'HF_ENDPOINT': 'http://127.0.0.1:9', 'HF_HOME': str(tmp_path / 'hf'),
                    'HOME': str(tmp_path), 'HF_HUB_OFFLINE': '0'})
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2, proc.stderr[-3000:]
    assert 'not in the local cache' in lines[-1] and '--checkpoint PATH' in lines[-1]


def test_other_input_size_is_resized_with_a_warning(tiny_clip, tmp_path):
    from declip_mmseg.clip import build_clip
    arch, _ = tiny_clip
    bigger = dict(TINY_ARCH, vision_cfg=dict(TINY_ARCH['vision_cfg'], image_size=64))
    _, other = write_tiny_clip(str(tmp_path), name='Tiny64-Test', arch=bigger)
    with pytest.warns(UserWarning, match='64 px input.*32 px'):
        build_clip(arch, other)


def test_eva_file_for_a_vit_config_names_its_architecture(tiny_clip, tiny_eva):
    from declip_mmseg.clip.architecture import architecture_of
    from declip_mmseg.clip import build_clip
    eva_arch, eva_ckpt = tiny_eva
    info = architecture_of(torch.load(eva_ckpt, weights_only=True))
    assert info['vision'] == 'EVA' and info['vision_width'] == 64 and info['vision_layers'] == 3
    assert info['patch_size'] == 8 and info['text_width'] == 32
    with pytest.raises(RuntimeError) as err:
        build_clip(tiny_clip[0], eva_ckpt)
    assert eva_ckpt in str(err.value) and 'EVA image tower' in str(err.value)


def test_evaluation_offline_says_so_in_one_line(tmp_path):
    proc = run([sys.executable, 'tools/test.py', 'configs/cfg_voc21.py', '--work-dir',
                str(tmp_path / 'w')], timeout=120,
               env={'HF_ENDPOINT': 'http://127.0.0.1:9', 'HF_HOME': str(tmp_path / 'hf'),
                    'HOME': str(tmp_path), 'HF_HUB_OFFLINE': '0'})
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert proc.returncode != 0 and len(lines) <= 2, lines
    assert "'openai' weights of 'ViT-B-16' are not in the local cache" in lines[-1]
    assert '--checkpoint PATH' in lines[-1]


def test_eval_all_tool_refuses_a_broken_out_at_once(tmp_path):
    (tmp_path / 'results.xlsx').write_bytes(b'not a workbook')
    proc = run([sys.executable, 'tools/eval_all.py', 'configs/cfg_voc20.py', '--out',
                str(tmp_path / 'results.xlsx'), '--work-dir', str(tmp_path / 'w')], timeout=300)
    assert proc.returncode != 0 and '[1/1]' not in proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith('error: ')
    assert 'results.xlsx' in proc.stderr and 'left untouched' in proc.stderr


def test_colour_label_map_and_checkpoint_folder(tiny_clip, tmp_path):
    from declip_mmseg.clip import build_clip
    metric = voc_metric()
    from mmengine.structures import PixelData
    colour = sample(np.zeros((6, 8), np.int64), np.zeros((6, 8), np.int64))
    # what mmseg's PackSegInputs makes of an RGB label PNG: the (H, W, 3) array as is
    colour['gt_sem_seg'] = PixelData(data=torch.zeros(6, 8, 3, dtype=torch.long)).to_dict()
    with pytest.raises(ValueError, match='SegmentationClass/2007_000000.png.*colour image'):
        metric.process({}, [colour])
    (tmp_path / 'weights').mkdir()
    (tmp_path / 'weights' / 'ViT-B-16.pt').write_bytes(b'x')
    with pytest.raises(IsADirectoryError, match=r"weights' is a directory.*ViT-B-16.pt"):
        build_clip(tiny_clip[0], str(tmp_path / 'weights'))
