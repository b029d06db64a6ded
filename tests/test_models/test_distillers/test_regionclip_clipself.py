"""RegionCLIP and CLIPSelf distillers: losses, training steps, and training through tools/train.py."""
import json
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

from declip_mmseg.datasets import RegionCLIPDataset
from declip_mmseg.models.losses import region_clip_loss
from declip_mmseg.testing.synthetic_data import make_coco, make_images

CATS = [{'id': 40, 'name': 'red thing'}, {'id': 7, 'name': 'blue thing'},
        {'id': 13, 'name': 'green thing'}]     # labels follow the sorted ids: 7, 13, 40


def make_pseudo(root, per_image=(3, 25, 0, 2)):
    """train2017 images and coco_pseudo_4764.json-style pseudo labels (the 3rd image has none)."""
    names = make_images(osp.join(root, 'train2017'), n=len(per_image))
    images = [{'id': 100 + i, 'file_name': n} for i, n in enumerate(names)]
    anns, k = [], 0
    for i, count in reversed(list(enumerate(per_image))):   # file order != image order
        for j in range(count):
            anns.append({'id': k, 'image_id': 100 + i, 'category_id': [40, 7, 13][j % 3],
                         'bbox': [1 + j % 5, 2 + j % 7, 10 + j, 8 + j % 4]})
            k += 1
    with open(osp.join(root, 'coco_pseudo_4764.json'), 'w') as f:
        json.dump({'images': images, 'annotations': anns, 'categories': CATS}, f)
    return root


def build(kind, tiny_eva, **kw):
    from mmseg.registry import MODELS

    import declip_mmseg  # noqa: F401
    arch, ckpt = tiny_eva
    model = MODELS.build(dict(type=kind, student=dict(
        type='DeCLIPViT', model_name=arch, pretrained=ckpt, attn_mode='identity', residual=True,
        ffn=True), **kw))
    return model


def test_clipself_loss(tiny_eva, tmp_path):
    from mmengine.dataset import default_collate

    from declip_mmseg.datasets import GridDistillDataset
    model = build('CLIPSelfDistiller', tiny_eva)
    model.attach_teachers(torch.device('cpu'))
    ds = GridDistillDataset(data_root=make_coco(str(tmp_path)), img_dir='train2017',
                            ann_file='annotations/instances_train2017.json', image_size=64,
                            crop_size=32, student_patch=8, grid_style='densevlm', max_boxes=36,
                            with_vfm_view=False)
    data = default_collate([ds[0], ds[1]])
    with torch.no_grad():
        loss = model.loss(data['inputs'], data['data_samples'])['loss_cosine']
        boxes = data['data_samples']['boxes']
        keep = boxes[..., 4] > 0.5
        f = F.normalize(model.student(data['inputs'])[0], dim=1)
        s = roi_align(f, [b[k, :4] * 8 for b, k in zip(boxes, keep)], (1, 1), 1.0, -1, True)[..., 0, 0]
        t = model.teacher(data['data_samples']['crops'][keep])       # initial CLIP, global
    expected = 1 - (F.normalize(s, dim=-1) * F.normalize(t, dim=-1)).sum(-1).mean()
    assert abs(float(loss) - float(expected)) < 1e-5


def test_region_clip_training_steps(tiny_eva, tmp_path):
    from mmengine.dataset import default_collate

    from declip_mmseg.clip import build_clip
    root = make_pseudo(str(tmp_path))
    ds = RegionCLIPDataset(data_root=root, image_size=64)
    model = build('RegionCLIPDistiller', tiny_eva, num_sample_classes=2)
    model.train_classes = ds.metainfo['classes']          # what DistillHook sets
    model.attach_teachers(torch.device('cpu'))
    assert model.get_teacher('noun_embeddings').shape == (3, 32)
    scale = float(build_clip(*tiny_eva).logit_scale.exp())
    assert model.get_teacher('logit_scale') == pytest.approx(scale)
    data = default_collate([ds[0], ds[1]])
    rows = data['data_samples']['boxes']
    keep = rows[..., 5] > 0.5
    torch.manual_seed(3)
    with torch.no_grad():
        loss = model.loss(data['inputs'], data['data_samples'])['loss_contrast']
        f = F.normalize(model.student(data['inputs'])[0], dim=1)
        feats = roi_align(f, [r[k, :4] * 8 for r, k in zip(rows, keep)], (1, 1), 1.0, -1,
                          True)[..., 0, 0]
    torch.manual_seed(3)
    expected = region_clip_loss(feats, rows[keep][:, 4].long(),
                                model.get_teacher('noun_embeddings'), scale, 2)
    assert abs(float(loss) - float(expected)) < 1e-5
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    history = []
    for _ in range(6):
        loss = model.loss(data['inputs'], data['data_samples'])['loss_contrast']
        optim.zero_grad()
        loss.backward()
        optim.step()
        history.append(float(loss))
    assert history[-1] < history[0], history


@pytest.mark.slow
@pytest.mark.parametrize('config,export', [('regionclip_coco', 'regionclip_student.pt'),
                                           ('clipself_coco', 'clipself_student.pt')])
def test_train_modes_through_tools(config, export, tiny_eva, tmp_path, run_tool):
    arch, ckpt = tiny_eva
    root = make_pseudo(str(tmp_path / 'coco'))
    if config == 'clipself_coco':
        make_coco(root)
    folder = config.split('_')[0]  # configs/regionclip/, configs/clipself/
    args = [f'configs/{folder}/{config}.py', '--work-dir',
            str(tmp_path / 'w'), '--cfg-options', f'model.student.model_name={arch}',
            f'model.student.pretrained={ckpt}', 'model.val_text_classifier=None',
            f'train_dataloader.dataset.data_root={root}', 'train_dataloader.dataset.image_size=64',
            'train_dataloader.num_workers=0', 'train_dataloader.batch_size=2',
            'train_cfg.max_epochs=1', 'val_dataloader=None', 'val_evaluator=None', 'val_cfg=None',
            'param_scheduler.0.warmup=1', 'default_hooks.logger.interval=1']
    if config == 'regionclip_coco':
        args.append('model.num_sample_classes=2')
    else:
        args += ['train_dataloader.dataset.student_patch=8', 'train_dataloader.dataset.crop_size=32']
    proc = run_tool('train', args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    out = proc.output
    assert ('loss_contrast' if config == 'regionclip_coco' else 'loss_cosine') in out
    assert osp.isfile(tmp_path / 'w' / export)
