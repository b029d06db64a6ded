"""DeCLIP's region-classification validation: dataset, pooling + scoring, metric, tools/test.py."""
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
from torchvision.ops import roi_align

from declip_mmseg.datasets import COCOPanopticRegionDataset
from declip_mmseg.evaluation import RegionClassificationMetric
from declip_mmseg.models import classify_regions

MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(3, 1, 1)
STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(3, 1, 1)
# deliberately not sorted by id: labels follow the sorted ids
CATEGORIES = [
    {'id': 92, 'name': 'banner', 'isthing': 0, 'supercategory': 'textile'},
    {'id': 3, 'name': 'car', 'isthing': 1, 'supercategory': 'vehicle'},
    {'id': 1, 'name': 'person', 'isthing': 1, 'supercategory': 'person'},
    {'id': 184, 'name': 'tree-merged', 'isthing': 0, 'supercategory': 'plant'},
    {'id': 18, 'name': 'dog', 'isthing': 1, 'supercategory': 'animal'},
    {'id': 149, 'name': 'road', 'isthing': 0, 'supercategory': 'ground'},
]
NAMES = ['person', 'car', 'dog', 'banner', 'road', 'tree-merged']   # sorted by id
SIZES = [(47, 71), (90, 53), (64, 64)]                              # (H, W)


def segment_id(k):
    """Ids that use all three PNG channels."""
    return 5 + 3 * k + 256 * (k + 1) + 65536 * (k % 2)


def id2rgb(ids):
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536], -1).astype(np.uint8)


def make_coco_panoptic(root, seed=0):
    """data/coco layout: val2017/*.jpg, annotations/panoptic_val2017{.json,/*.png}.

    Each image: two stuff bands (top / bottom), two thing rectangles, a 2x2
    thing (dropped: area < 64), an unlabeled strip (id 0).  Returns the json.
    """
    rng = np.random.default_rng(seed)
    cat_ids = {c['name']: c['id'] for c in CATEGORIES}
    os.makedirs(osp.join(root, 'val2017'))
    os.makedirs(osp.join(root, 'annotations', 'panoptic_val2017'))
    images, annotations, k = [], [], 0
    for i, (h, w) in enumerate(SIZES):
        ids = np.zeros((h, w), np.int64)
        segments = []

        def add(name, y0, y1, x0, x1):
            nonlocal k
            sid = segment_id(k)
            k += 1
            ids[y0:y1, x0:x1] = sid
            ys, xs = np.where(ids == sid)
            segments.append({'id': int(sid), 'category_id': cat_ids[name], 'iscrowd': 0,
                             'area': int(len(ys)),
                             'bbox': [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                      int(ys.max() - ys.min() + 1)]})
        add(['tree-merged', 'banner', 'road'][i], 0, h // 2, 0, w)
        add(['road', 'tree-merged', 'banner'][i], h // 2, h, 3, w)  # columns 0-2 stay void
        add(['person', 'dog', 'car'][i], 5 + i, h // 2 + 4, 4, w // 2)
        add(['car', 'person', 'dog'][i], h // 3, h - 6, w // 2 + 3, w - 2 - i)
        add('dog', 1, 3, w - 4, w - 2)                               # 2x2: dropped
        stem = f'{139 + i:012d}'
        img = np.clip(rng.integers(0, 255, 3) + id2rgb(ids) // 3 + rng.integers(0, 30, (h, w, 3)),
                      0, 255).astype(np.uint8)
        Image.fromarray(img).save(osp.join(root, 'val2017', stem + '.jpg'), quality=95)
        Image.fromarray(id2rgb(ids)).save(osp.join(root, 'annotations', 'panoptic_val2017',
                                                   stem + '.png'))
        images.append({'id': 139 + i, 'file_name': stem + '.jpg', 'height': h, 'width': w})
        annotations.append({'image_id': 139 + i, 'file_name': stem + '.png',
                            'segments_info': segments})
    data = {'images': images, 'annotations': annotations, 'categories': CATEGORIES}
    with open(osp.join(root, 'annotations', 'panoptic_val2017.json'), 'w') as f:
        json.dump(data, f)
    return data


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('data') / 'coco')
    make_coco_panoptic(root)
    return root


def build_dataset(root, **kw):
    kw = dict(dict(data_root=root, image_size=64, patch_size=8, img_dir='val2017',
                   ann_file='annotations/panoptic_val2017.json',
                   seg_dir='annotations/panoptic_val2017'), **kw)
    return COCOPanopticRegionDataset(**kw)


# -- dataset -----------------------------------------------------------------
def test_dataset_samples(coco_root):
    data = json.load(open(osp.join(coco_root, 'annotations', 'panoptic_val2017.json')))
    ds = build_dataset(coco_root)
    assert len(ds) == 3
    assert ds.metainfo['classes'] == tuple(NAMES)
    assert ds.metainfo['is_thing'] == (True, True, True, False, False, False)
    label_of = {c['id']: NAMES.index(c['name']) for c in CATEGORIES}
    S, g = 64, 8
    for i, (h, w) in enumerate(SIZES):
        sample = ds[i]
        inputs, ds_ = sample['inputs'], sample['data_samples']
        assert inputs.shape == (3, S, S) and inputs.dtype == torch.float32
        assert ds_['img_path'].endswith(f'val2017/{139 + i:012d}.jpg')
        # the image: resized longest side, black padding, CLIP-normalized
        scale = S / max(h, w)
        nh, nw = round(h * scale), round(w * scale)
        img = Image.open(ds_['img_path']).convert('RGB').resize((nw, nh), Image.BICUBIC)
        ref = (torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255 - MEAN) / STD
        torch.testing.assert_close(inputs[:, :nh, :nw], ref, atol=1e-5, rtol=0)
        pad = (-MEAN / STD).expand(3, S, S)
        assert torch.allclose(inputs[:, nh:], pad[:, nh:])
        assert torch.allclose(inputs[:, :, nw:], pad[:, :, nw:])
        # the regions: the 2x2 thing is dropped, order kept
        png = np.asarray(Image.open(osp.join(coco_root, 'annotations', 'panoptic_val2017',
                                             f'{139 + i:012d}.png'))).astype(np.int64)
        segm = png[..., 0] + 256 * png[..., 1] + 65536 * png[..., 2]
        segs = data['annotations'][i]['segments_info'][:4]
        assert ds_['labels'].tolist() == [label_of[s['category_id']] for s in segs]
        assert ds_['is_thing'].tolist() == [False, False, True, True]
        expected = []
        for s in segs:
            if s['category_id'] in (1, 3, 18):
                x, y, bw, bh = s['bbox']
                expected.append([x, y, x + bw, y + bh])
            else:   # mask2box: max inclusive
                ys, xs = np.where(segm == s['id'])
                expected.append([xs.min(), ys.min(), xs.max(), ys.max()])
        expected = torch.tensor(expected, dtype=torch.float32) * scale / S
        torch.testing.assert_close(ds_['boxes'], expected)
        assert ds_['boxes'].max() <= 1 and ds_['boxes'].min() >= 0
        # the masks: float bicubic (no antialias) at the feature grid, padded, > 0
        assert ds_['masks'].shape == (4, g, g) and ds_['masks'].dtype == torch.bool
        gscale = g / max(h, w)
        gh, gw = round(h * gscale), round(w * gscale)
        full = torch.from_numpy(np.stack([segm == s['id'] for s in segs])).float()
        small = F.interpolate(full[:, None], size=(gh, gw), mode='bicubic',
                              align_corners=False)[:, 0]
        ref_masks = torch.zeros(4, g, g, dtype=torch.bool)
        ref_masks[:, :gh, :gw] = small > 0
        assert torch.equal(ds_['masks'], ref_masks)
        assert not ds_['masks'][:, gh:].any() and not ds_['masks'][:, :, gw:].any()


def test_dataset_max_regions_and_lazy_init(coco_root):
    ds = build_dataset(coco_root, max_regions=3)
    assert ds[0]['data_samples']['labels'].numel() == 3
    lazy = build_dataset(coco_root, lazy_init=True)
    assert len(lazy.metainfo['classes']) == 133       # the official names until the json is read
    assert len(lazy.load_data_list()) == 3


def test_dataset_errors(coco_root, tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json'):
        build_dataset(coco_root, ann_file='annotations/nope.json')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [')
    with pytest.raises(ValueError, match='bad.json'):
        build_dataset(coco_root, ann_file=str(bad))
    empty = tmp_path / 'empty.json'
    empty.write_text(json.dumps({'images': [], 'annotations': [], 'categories': CATEGORIES}))
    with pytest.raises(RuntimeError, match='empty.json'):
        build_dataset(coco_root, ann_file=str(empty))
    with pytest.raises(FileNotFoundError, match='no_images'):
        build_dataset(coco_root, img_dir='no_images')
    # a corrupt PNG and a missing image are reported with their paths
    root = str(tmp_path / 'coco')
    make_coco_panoptic(root)
    png = osp.join(root, 'annotations', 'panoptic_val2017', f'{139:012d}.png')
    with open(png, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + b'garbage' * 10)
    os.remove(osp.join(root, 'val2017', f'{140:012d}.jpg'))
    ds = build_dataset(root)
    with pytest.raises(ValueError, match=re.escape(png)):
        ds[0]
    with pytest.raises(FileNotFoundError, match=f'{140:012d}.jpg'):
        ds[1]


# -- pooling and scoring -------------------------------------------------------
def test_classify_regions_matches_direct_computation():
    torch.manual_seed(0)
    B, E, h, w, C = 2, 16, 7, 9, 5
    content = torch.randn(B, E, h, w)
    text = F.normalize(torch.randn(C, E), dim=-1)
    samples = []
    for n in (3, 0):  # an image without regions too
        xy = torch.rand(n, 2) * 0.6
        boxes = torch.cat([xy, xy + 0.1 + torch.rand(n, 2) * 0.3], 1)
        masks = torch.rand(n, h, w) > 0.6
        samples.append(dict(boxes=boxes, masks=masks, labels=torch.arange(n),
                            is_thing=torch.ones(n, dtype=torch.bool)))
    out = classify_regions(content, samples, text)
    assert [o['rois_logits'].shape for o in out] == [(3, C), (0, C)]
    for i, (o, s) in enumerate(zip(out, samples)):
        rois = s['boxes'] * torch.tensor([w, h, w, h])
        feats = roi_align(content[i:i + 1], [rois], (1, 1), 1.0, -1, True)[:, :, 0, 0]
        torch.testing.assert_close(o['rois_logits'], F.normalize(feats, dim=-1) @ text.T)
        pooled = torch.stack([content[i][:, m].mean(1) for m in s['masks']]) if len(s['masks']) \
            else torch.zeros(0, E)
        torch.testing.assert_close(o['maskpool_logits'], F.normalize(pooled, dim=-1) @ text.T)
        assert torch.equal(o['labels'], s['labels']) and torch.equal(o['is_thing'], s['is_thing'])
    # synonyms: queries (a, a', b) -> classes (a, b), max over a's queries
    out2 = classify_regions(content, samples, text[:3], torch.tensor([0, 0, 1]))
    direct = classify_regions(content, samples, text[:3])
    torch.testing.assert_close(out2[0]['rois_logits'], torch.stack(
        [direct[0]['rois_logits'][:, :2].amax(1), direct[0]['rois_logits'][:, 2]], 1))
    with pytest.raises(ValueError, match='feature-grid'):
        classify_regions(content, [dict(s, masks=torch.zeros(3, 4, 4, dtype=torch.bool))
                                   for s in samples[:1]] + samples[1:], text)


def test_model_config_errors(tiny_eva):
    from mmseg.registry import MODELS
    arch, ckpt = tiny_eva
    backbone = dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt, attn_mode='qq',
                    attn_scale=1.0)
    with pytest.raises(ValueError, match='class_names'):
        MODELS.build(dict(type='DenseRegionClassifier', backbone=backbone,
                          text_classifier=dict(type='ZeroShotTextClassifier')))
    model = MODELS.build(dict(type='DenseRegionClassifier', backbone=backbone, text_classifier=dict(
        type='ZeroShotTextClassifier', class_names=NAMES)))
    with pytest.raises(RuntimeError, match='only evaluates'):
        model(torch.zeros(1, 3, 32, 32), [], mode='loss')
    masks = torch.zeros(1, 4, 4, dtype=torch.bool)
    masks[0, 1:3, 1:3] = True
    sample = dict(boxes=torch.tensor([[0.2, 0.2, 0.7, 0.8]]), masks=masks,
                  labels=torch.tensor([2]), is_thing=torch.tensor([True]))
    out = model.test_step(dict(inputs=[torch.randn(3, 32, 32)], data_samples=[sample]))
    assert out[0]['rois_logits'].shape == (1, 6) and out[0]['maskpool_logits'].shape == (1, 6)


# -- metric ----------------------------------------------------------------------
def one_hot_ranking(order, C=7):
    """Logits whose ranking is ``order`` first (then the rest by index)."""
    logits = torch.zeros(C)
    for rank, c in enumerate(order):
        logits[c] = 10.0 - rank
    return logits


def test_metric_mean_class_accuracy():
    # things 0-2, stuff 3-6; label: (ranking of rois, ranking of maskpool)
    image1 = [(0, [0], [1, 0]),             # thing 0: rois top-1; maskpool top-5 only
              (0, [1, 2, 3, 4, 0], [0]),    # thing 0: rois top-5 only (rank 5); maskpool top-1
              (3, [3], [3])]                # stuff 3 right
    image2 = [(1, [0, 2, 3, 4, 5], [1]),    # thing 1: rois wrong even top-5 (rank 7)
              (3, [3], [4, 3]),             # stuff 3: maskpool wrong top-1, right top-5
              (3, [3], [3]),
              (5, [6, 5], [6, 0, 1, 2, 3])]  # stuff 5: rois top-5; maskpool nowhere in top-5
    metric = RegionClassificationMetric()
    metric.dataset_meta = dict(classes=tuple('abcdefg'))
    for image in (image1, image2):
        labels = torch.tensor([r[0] for r in image])
        rois = torch.stack([one_hot_ranking(r[1]) for r in image])
        maskpool = torch.stack([one_hot_ranking(r[2]) for r in image])
        metric.process({}, [dict(labels=labels, is_thing=labels < 3, rois_logits=rois,
                                 maskpool_logits=maskpool)])
    res = metric.evaluate(2)
    # rois things: class 0 top1 1/2, top5 2/2; class 1 0/1, 0/1 -> 25, 50
    # (the mean over regions would be 33.3 top-1)
    assert res['rois_thing_top1'] == 25.0 and res['rois_thing_top5'] == 50.0
    # rois stuff: class 3 3/3; class 5 top1 0, top5 1 -> 50, 100
    assert res['rois_stuff_top1'] == 50.0 and res['rois_stuff_top5'] == 100.0
    # maskpool things: class 0 top1 1/2, top5 2/2; class 1 1/1 -> 75, 100
    assert res['maskpool_thing_top1'] == 75.0 and res['maskpool_thing_top5'] == 100.0
    # maskpool stuff: class 3 top1 2/3, top5 3/3; class 5 0, 0 -> 33.33, 50
    assert res['maskpool_stuff_top1'] == 33.33 and res['maskpool_stuff_top5'] == 50.0
    assert len(res) == 8


def test_metric_edge_cases():
    metric = RegionClassificationMetric(topk=(1, 5))
    metric.dataset_meta = dict(classes=('a', 'b', 'c'))  # fewer classes than k = 5
    logits = torch.tensor([[3.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
    metric.process({}, [dict(labels=torch.tensor([1, 1]), is_thing=torch.tensor([True, True]),
                             rois_logits=logits, maskpool_logits=logits)])
    res = metric.evaluate(1)
    assert res['rois_thing_top1'] == 0.0 and res['rois_thing_top5'] == 100.0
    assert np.isnan(res['rois_stuff_top1'])  # no stuff region
    metric.dataset_meta = dict(classes=('a', 'b'))
    with pytest.raises(ValueError, match='class_names'):
        metric.process({}, [dict(labels=torch.tensor([1]), is_thing=torch.tensor([True]),
                                 rois_logits=logits[:1], maskpool_logits=logits[:1])])


# -- tools/test.py -----------------------------------------------------------------
CONFIG = 'configs/declip/declip_region_cls_coco.py'
KEYS = [f'{m}_{kind}_top{k}' for m in ('rois', 'maskpool') for kind in ('thing', 'stuff')
        for k in (1, 5)]


def run_tool(cmd, args):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1', PYTHON=sys.executable,
               PORT=str(29500 + (os.getpid() + 7) % 1000))
    return subprocess.run(cmd + args, cwd=REPO, env=env, capture_output=True, text=True)


def run_test_tool(args):
    return run_tool([sys.executable, 'tools/test.py', CONFIG], args)


def printed_metrics(proc):
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    found = {key: re.findall(rf'{key}: ([\d.]+)', out) for key in KEYS}
    assert all(found.values()), out[-3000:]
    return {key: float(v[-1]) for key, v in found.items()}, out


@pytest.fixture(scope='module')
def tool_options(tiny_eva, coco_root, tmp_path_factory):
    arch, ckpt = tiny_eva
    work = tmp_path_factory.mktemp('work')
    names = work / 'names.txt'
    names.write_text('\n'.join(NAMES) + '\n')
    return ['--work-dir', str(work), '--cfg-options',
            f'model.backbone.model_name={arch}', f'model.backbone.pretrained={ckpt}',
            f'model.text_classifier.class_names={names}',
            f'test_dataloader.dataset.data_root={coco_root}', 'test_dataloader.num_workers=0',
            'test_dataloader.dataset.image_size=64', 'test_dataloader.dataset.patch_size=8']


def test_tools_test_end_to_end(tool_options, tmp_path):
    metrics, out = printed_metrics(run_test_tool(tool_options))
    assert 'Iter(test) [3/3]' in out and "attn_mode='qq'" in out
    assert all(0 <= v <= 100 for v in metrics.values())
    # two processes (gloo on the CPU; the sampler pads 3 images to 4): the same numbers
    dist, out = printed_metrics(run_tool(['bash', 'tools/dist_test.sh', CONFIG, '2'], tool_options))
    assert dist == metrics and 'Iter(test) [2/2]' in out
    # a missing annotation file is named
    options = [o for o in tool_options if not o.startswith('test_dataloader.dataset.data_root')]
    proc = run_test_tool(options + [f'test_dataloader.dataset.data_root={tmp_path}'])
    assert proc.returncode != 0 and 'panoptic_val2017.json' in proc.stderr


def test_coco_panoptic_class_file():
    from declip_mmseg.datasets import COCO_PANOPTIC_CLASSES
    from declip_mmseg.text import load_vocabulary
    vocab = load_vocabulary(osp.join(REPO, 'configs', 'class_names', 'coco_panoptic.txt'))
    assert vocab.num_classes == 133
    assert tuple(q for (q,) in vocab.classes) == COCO_PANOPTIC_CLASSES
    assert COCO_PANOPTIC_CLASSES[:2] == ('person', 'bicycle')
    assert COCO_PANOPTIC_CLASSES[79:81] == ('toothbrush', 'banner')
    assert COCO_PANOPTIC_CLASSES[-1] == 'rug-merged'
