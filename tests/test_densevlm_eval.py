"""DenseVLM's region classification: ADE20K panoptic conversion and dataset, token-normalized
pooling, DenseVLM's metric keys and rounding, tools/test.py and tools/eval_all.py."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import REPO
from PIL import Image
from test_region_classification import NAMES, make_coco_panoptic
from torchvision.ops import roi_align

from declip_mmseg.datasets import ADE20KPanopticRegionDataset
from declip_mmseg.datasets.ade20k_panoptic import (ADE20K_THING_IDS, convert_ade20k_panoptic,
                                                   convert_image)
from declip_mmseg.evaluation import RegionClassificationMetric

DV_KEYS = [f'{m}.{kind}.macc{k}' for m in ('rois', 'maskpool') for kind in ('thing', 'stuff')
           for k in (1, 5)]


def make_raw_ade(root, n=2, seed=0):
    """ADEChallengeData2016 with images/, annotations/ and annotations_instance/ (validation).

    Each image: wall (label 1) on top, sky (3) at the bottom, a void corner (0), two persons
    (instance class 4 -> label 13) and a car (instance class 9 -> label 21) pasted over the
    stuff; the semantic map marks the things too, as ADE's does."""
    rng = np.random.default_rng(seed)
    for sub in ('images', 'annotations', 'annotations_instance'):
        os.makedirs(osp.join(root, sub, 'validation'), exist_ok=True)
    for i in range(n):
        h, w = 48 + 8 * i, 72 - 6 * i
        sem = np.ones((h, w), np.uint8)
        sem[h // 2:] = 3
        sem[:4, :4] = 0
        inst = np.zeros((h, w, 3), np.uint8)
        for k, (cls, sem_label, y0, x0) in enumerate([(4, 13, 6, 6), (4, 13, 20, 30),
                                                      (9, 21, h // 2 + 2, 10)]):
            inst[y0:y0 + 12, x0:x0 + 14] = (cls, k + 1, 0)
            sem[y0:y0 + 12, x0:x0 + 14] = sem_label
        stem = f'ADE_val_{i + 1:08d}'
        img = (rng.random((h, w, 3)) * 60 + sem[..., None] * 10).astype(np.uint8)
        Image.fromarray(img).save(osp.join(root, 'images', 'validation', stem + '.jpg'))
        Image.fromarray(sem).save(osp.join(root, 'annotations', 'validation', stem + '.png'))
        Image.fromarray(inst).save(osp.join(root, 'annotations_instance', 'validation',
                                            stem + '.png'))
    return root


@pytest.fixture(scope='module')
def ade_root(tmp_path_factory):
    root = make_raw_ade(str(tmp_path_factory.mktemp('ade') / 'ADEChallengeData2016'))
    convert_ade20k_panoptic(root, log=None)
    return root


def test_converter(ade_root):
    with open(osp.join(ade_root, 'ade20k_panoptic_val.json')) as f:
        data = json.load(f)
    cats = data['categories']
    assert len(cats) == 150 and [c['id'] for c in cats] == list(range(150))
    assert sum(c['isthing'] for c in cats) == 100 == len(ADE20K_THING_IDS)
    assert cats[12]['name'] == 'person' and cats[12]['isthing'] == 1
    assert cats[0]['isthing'] == 0 and cats[2]['isthing'] == 0            # wall, sky
    assert [img['id'] for img in data['images']] == ['ADE_val_00000001', 'ADE_val_00000002']
    ann = data['annotations'][0]
    assert ann['file_name'] == 'ADE_val_00000001.png'
    segs = ann['segments_info']
    assert [s['category_id'] for s in segs] == [0, 2, 12, 12, 20]           # stuff, then things
    png = np.asarray(Image.open(osp.join(ade_root, 'ade20k_panoptic_val', ann['file_name'])))
    ids = png[..., 0].astype(int) + 256 * png[..., 1] + 65536 * png[..., 2]
    assert ids[0, 0] == 0 and ids[10, 10] == segs[2]['id']                # void; person on wall
    person = segs[2]
    assert person['bbox'] == [6, 6, 14, 12] and person['area'] == 12 * 14
    wall = segs[0]
    assert wall['area'] == int((ids == wall['id']).sum())


def test_converter_rejects_mixed_instance():
    sem = np.ones((8, 8), np.uint8)
    inst = np.zeros((8, 8, 3), np.uint8)
    inst[:2, :2] = (4, 1, 0)
    inst[2:4, :2] = (8, 1, 0)
    with pytest.raises(ValueError, match='instance 1 has instance classes'):
        convert_image(sem, inst)


def test_ade_dataset(ade_root, tmp_path):
    ds = ADE20KPanopticRegionDataset(data_root=ade_root, image_size=64, patch_size=8)
    assert len(ds.metainfo['classes']) == 150 and ds.metainfo['classes'][12] == 'person'
    s = ds[0]['data_samples']
    assert s['labels'].tolist() == [0, 2, 12, 12, 20]
    assert s['is_thing'].tolist() == [False, False, True, True, True]
    assert s['masks'].shape == (5, 8, 8)
    h, w = 48, 72
    scale = 64 / 72
    torch.testing.assert_close(s['boxes'][2], torch.tensor([6, 6, 20, 18.]) * scale / 64)
    with pytest.raises(FileNotFoundError, match='prepare_ade20k_panoptic.py'):
        ADE20KPanopticRegionDataset(data_root=str(tmp_path), image_size=64, patch_size=8)


def test_token_normalized_region_classifier(tiny_eva):
    """rois: RoIAlign of the unit-norm token map; maskpool: mean of unit-norm tokens."""
    from mmseg.registry import MODELS
    arch, ckpt = tiny_eva
    model = MODELS.build(dict(
        type='DenseRegionClassifier', normalize_tokens=True,
        backbone=dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt, attn_mode='identity',
                      residual=True, ffn=True),
        text_classifier=dict(type='ZeroShotTextClassifier', class_names=['a', 'b', 'c'],
                             templates='photo')))
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    boxes = torch.tensor([[0.1, 0.2, 0.6, 0.5], [0.0, 0.0, 1.0, 1.0]])
    masks = torch.zeros(2, 8, 8, dtype=torch.bool)
    masks[0, 2:5, 1:4] = True
    masks[1, :, 4:] = True
    out = model([x[0]], [dict(boxes=boxes, masks=masks)])[0]
    with torch.no_grad():
        f = F.normalize(model.backbone(x)[0], dim=1)
    text = F.normalize(model.text_classifier.query_embeddings, dim=-1)
    rois = roi_align(f, [boxes * 8], (1, 1), 1.0, -1, True)[..., 0, 0]
    torch.testing.assert_close(out['rois_logits'], F.normalize(rois, dim=-1) @ text.T)
    pooled = torch.stack([f[0][:, m].mean(1) for m in masks])
    torch.testing.assert_close(out['maskpool_logits'], F.normalize(pooled, dim=-1) @ text.T,
                               atol=1e-5, rtol=1e-5)


def densevlm_macc(correct, labels):
    """DenseVLM's macc_with_is_thing._macc: labels min..max, float16 per class."""
    accs = []
    for lb in range(int(labels.min()), int(labels.max()) + 1):
        c = correct[labels == lb]
        if len(c):
            accs.append(c.float().mean().half().item())
    return sum(accs) / len(accs)


def test_metric_densevlm_keys_and_rounding():
    metric = RegionClassificationMetric(key_format='{method}.{kind}.macc{k}',
                                        half_precision_per_class=True)
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 7, (300,), generator=g)
    is_thing = labels < 4
    logits = torch.randn(300, 7, generator=g) + 1.5 * F.one_hot(labels, 7)
    metric.process(None, [dict(labels=labels, is_thing=is_thing, rois_logits=logits,
                               maskpool_logits=-logits)])
    out = metric.compute_metrics(metric.results)
    assert sorted(out) == sorted(DV_KEYS)
    top1 = logits.argmax(1) == labels
    top5 = (logits.topk(5, dim=1).indices == labels[:, None]).any(1)
    assert out['rois.thing.macc1'] == round(densevlm_macc(top1[is_thing], labels[is_thing]) * 100, 2)
    assert out['rois.stuff.macc5'] == round(densevlm_macc(top5[~is_thing], labels[~is_thing]) * 100, 2)


def run(args, cwd=REPO):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    return out


@pytest.fixture(scope='module')
def ade_embeddings(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('emb') / 'ade_panoptic.npy')
    np.save(path, np.random.default_rng(0).normal(size=(150, 32)).astype(np.float32))
    return path


def test_tools_test_ade_and_coco(tiny_eva, ade_root, ade_embeddings, tmp_path):
    arch, ckpt = tiny_eva
    common = [f'model.backbone.model_name={arch}', 'test_dataloader.num_workers=0',
              'test_dataloader.dataset.image_size=64', 'test_dataloader.dataset.patch_size=8']
    out = run([sys.executable, 'tools/test.py', 'configs/densevlm/densevlm_region_cls_ade.py',
               '--checkpoint', ckpt, '--work-dir', str(tmp_path / 'ade'), '--cfg-options',
               f'test_dataloader.dataset.data_root={ade_root}',
               f'model.text_classifier.embeddings_file={ade_embeddings}'] + common)
    for key in DV_KEYS:
        assert re.search(rf'{re.escape(key)}: [\d.]+', out), out[-3000:]
    coco = str(tmp_path / 'coco')
    make_coco_panoptic(coco)
    names = tmp_path / 'names.txt'
    names.write_text('\n'.join(NAMES) + '\n')
    out = run([sys.executable, 'tools/test.py', 'configs/densevlm/densevlm_region_cls_coco.py',
               '--checkpoint', ckpt, '--work-dir', str(tmp_path / 'coco_w'), '--cfg-options',
               f'test_dataloader.dataset.data_root={coco}',
               f'model.text_classifier.class_names={names}'] + common)
    assert re.search(r'maskpool\.stuff\.macc1: [\d.]+', out), out[-3000:]


def test_eval_all_region_sheet(tiny_eva, ade_root, ade_embeddings, tmp_path):
    from openpyxl import load_workbook
    arch, ckpt = tiny_eva
    out = run([sys.executable, osp.join(REPO, 'tools/eval_all.py'),
               osp.join(REPO, 'configs/densevlm/densevlm_region_cls_ade.py'), '--checkpoint', ckpt,
               '--out', 'results.xlsx', '--cfg-options', f'model.backbone.model_name={arch}',
               f'test_dataloader.dataset.data_root={ade_root}', 'test_dataloader.num_workers=0',
               f'model.text_classifier.embeddings_file={ade_embeddings}',
               'test_dataloader.dataset.image_size=64', 'test_dataloader.dataset.patch_size=8'],
              cwd=str(tmp_path))
    assert 'rois.thing.macc1' in out
    book = load_workbook(tmp_path / 'results.xlsx')
    rows = list(book['region_classification'].values)
    header = rows[0]
    assert header[:3] == ('date', 'config', 'dataset') and set(DV_KEYS) <= set(header)
    row = dict(zip(header, rows[1]))
    assert row['dataset'] == 'ADE20KPanopticRegionDataset' and row['weights'] == ckpt
    assert row['image_size'] == 64 and row['text_embeddings'] == ade_embeddings
    assert 0 <= row['rois.thing.macc1'] <= 100
