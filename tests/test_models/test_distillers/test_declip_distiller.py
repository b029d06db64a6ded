"""DeCLIP distillation: losses wired in the distiller, training, resume, export."""
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from declip_mmseg.datasets.grid_distill import GridDistillDataset
from declip_mmseg.models.losses import context_loss
from declip_mmseg.testing.synthetic_data import make_coco
from declip_mmseg.testing.tools import run_process

VFM_ARCH = dict(depth=2, embed_dim=48, num_heads=2)






@pytest.fixture(scope='module')
def vfm_file(tmp_path_factory):
    """Random weights of a narrow DINOv2-with-registers ViT-B/14 layout, in timm's format."""
    import timm
    model = timm.create_model('vit_base_patch14_reg4_dinov2', pretrained=False, num_classes=0,
                              **VFM_ARCH)
    path = str(tmp_path_factory.mktemp('vfm') / 'dinov2_tiny.pth')
    torch.save(model.state_dict(), path)
    return path


def small_dataset(root, **kw):
    args = dict(data_root=root, img_dir='train2017', ann_file='annotations/instances_train2017.json',
                image_size=64, crop_size=32, student_patch=8, vfm_patch=14, max_boxes=6)
    args.update(kw)
    return GridDistillDataset(**args)


# -- the model -------------------------------------------------------------------------------
def build_distiller(tiny_eva, vfm_file, **kw):
    from mmseg.registry import MODELS

    import declip_mmseg  # noqa: F401
    arch, ckpt = tiny_eva
    cfg = dict(type='DeCLIPDistiller',
               student=dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt, attn_mode='csa',
                            attn_scale=1.0),
               loss_content_weight=1.0, loss_context_weight=0.25)
    cfg.update(kw)
    model = MODELS.build(cfg)
    model.attach_teachers(torch.device('cpu'), vfm=dict(name='dinov2-B', weights=vfm_file, **VFM_ARCH))
    return model


def fixed_batch(root):
    from mmengine.dataset import default_collate
    ds = small_dataset(root)
    return default_collate([ds[0], ds[1]])


def test_losses_decrease_and_only_unlocked_parameters_train(tiny_eva, vfm_file, tmp_path):
    model = build_distiller(tiny_eva, vfm_file, unlocked_blocks=2)
    batch = fixed_batch(make_coco(str(tmp_path)))
    teacher = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    vfm = {k: v.clone() for k, v in model._teachers['vfm'].state_dict().items()}
    frozen = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all('blocks.1.' in n or 'blocks.2.' in n for n in trainable)
    assert not any('blocks.2.mlp' in n or 'blocks.2.norm2' in n for n in trainable)  # unused
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    history = []
    for _ in range(12):
        losses = model.loss(batch['inputs'], batch['data_samples'])
        total = sum(losses.values())
        optim.zero_grad()
        total.backward()
        for name, p in model.named_parameters():
            if name in frozen:
                assert p.grad is None, name
        optim.step()
        history.append({k: float(v) for k, v in losses.items()})
    for key in ('loss_content', 'loss_context'):
        values = [h[key] for h in history]
        assert all(np.isfinite(values)) and values[-1] < values[0], (key, values)
    for name, p in model.named_parameters():
        if name in frozen:
            assert torch.equal(p, frozen[name]), name
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher[k])
    for k, v in model._teachers['vfm'].state_dict().items():
        assert torch.equal(v, vfm[k])


def test_loss_equals_direct_recomputation(tiny_eva, vfm_file, tmp_path):
    from torchvision.ops import roi_align
    model = build_distiller(tiny_eva, vfm_file)
    batch = fixed_batch(make_coco(str(tmp_path)))
    with torch.no_grad():
        losses = model.loss(batch['inputs'], batch['data_samples'])
        content, context = model.student(batch['inputs'])
        boxes = batch['data_samples']['boxes']
        keep = boxes[..., 4] > 0.5
        rois = [b[v][:, :4] * torch.tensor([8., 8., 8., 8.]) for b, v in zip(boxes, keep)]
        s = roi_align(content, rois, (1, 1), 1.0, -1, True)[..., 0, 0]
        t = model.teacher(batch['data_samples']['crops'][keep])
        expected_content = 1 - (F.normalize(s, dim=-1) * F.normalize(t, dim=-1)).sum(-1).mean()
        vfm = model._teachers['vfm'](batch['data_samples']['vfm_inputs'])
    assert abs(float(losses['loss_content']) - float(expected_content)) < 1e-5
    expected_context = 0.25 * context_loss(vfm, context, 'csa', model.student.tower.num_heads)
    assert abs(float(losses['loss_context']) - float(expected_context)) < 1e-5


def test_missing_vfm_weights_is_a_clear_error(tiny_eva, tmp_path):
    from declip_mmseg.models.backbones.vfm import build_vfm
    with pytest.raises(FileNotFoundError, match='dinov2_vitb14_reg4_pretrain.pth'):
        build_vfm('dinov2-B', str(tmp_path / 'checkpoints' / 'dinov2_vitb14_reg4_pretrain.pth'))


# -- training through tools/train.py ----------------------------------------------------------
def train_args(tiny_eva, vfm_file, root, work_dir, epochs):
    arch, ckpt = tiny_eva
    return ['configs/declip_distill_coco.py', '--work-dir',
            str(work_dir), '--cfg-options',
            f'model.student.model_name={arch}', f'model.student.pretrained={ckpt}',
            'model.val_text_classifier=None',
            f'train_dataloader.dataset.data_root={root}', 'train_dataloader.dataset.image_size=64',
            'train_dataloader.dataset.crop_size=32', 'train_dataloader.dataset.student_patch=8',
            'train_dataloader.dataset.max_boxes=6', 'train_dataloader.num_workers=0',
            'train_dataloader.batch_size=2', f'train_cfg.max_epochs={epochs}',
            'train_cfg.val_interval=100', 'val_dataloader=None', 'val_evaluator=None',
            'val_cfg=None', 'param_scheduler.0.end=2', 'param_scheduler.1.end=2',
            'param_scheduler.1.T_max=2', 'optim_wrapper.optimizer.lr=1e-3',
            'default_hooks.logger.interval=1', f'custom_hooks.0.vfm.weights={vfm_file}',
            'custom_hooks.0.vfm.depth=2', 'custom_hooks.0.vfm.embed_dim=48',
            'custom_hooks.0.vfm.num_heads=2']


def student_weights(path):
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    return {k: v for k, v in ckpt['state_dict'].items() if k.startswith('student.')}


@pytest.mark.slow
def test_train_resume_export(tiny_eva, vfm_file, tmp_path, run_tool):
    root = make_coco(str(tmp_path / 'coco'))
    whole = tmp_path / 'whole'
    proc = run_tool('train', train_args(tiny_eva, vfm_file, root, whole, 2))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    out = proc.output
    assert 'loss_content' in out and 'loss_context' in out
    assert osp.isfile(whole / 'epoch_2.pth') and osp.isfile(whole / 'declip_student.pt')
    # interrupted after epoch 1, then resumed
    part = tmp_path / 'part'
    proc = run_tool('train', train_args(tiny_eva, vfm_file, root, part, 1))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    proc = run_tool('train', train_args(tiny_eva, vfm_file, root, part, 2) + ['--resume'])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    out = proc.output
    assert 'resumed' in out.lower() or 'Resumed' in out
    a, b = student_weights(whole / 'epoch_2.pth'), student_weights(part / 'epoch_2.pth')
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    # the export loads into the zero-shot segmentor and changes its predictions
    from mmseg.registry import MODELS
    arch, ckpt = tiny_eva

    def segment(weights):
        model = MODELS.build(dict(
            type='ZeroShotSegmentor',
            backbone=dict(type='DeCLIPViT', model_name=arch, pretrained=weights, attn_mode='csa',
                          attn_scale=1.0),
            text_classifier=dict(type='ZeroShotTextClassifier', class_names=['cat', 'dog', 'sky'],
                                 templates='photo'),
            slide_crop=32, slide_stride=16)).eval()
        with torch.no_grad():
            return model._forward(torch.randn(1, 3, 40, 56, generator=torch.Generator().manual_seed(0)))
    before, after = segment(ckpt), segment(str(whole / 'declip_student.pt'))
    assert (before - after).abs().max() > 1e-3
    text = torch.load(whole / 'declip_student.pt', weights_only=True)
    base = torch.load(ckpt, weights_only=True)
    assert torch.equal(text['text.text_projection'], base['text.text_projection'])


def test_export_blending(tiny_eva, vfm_file, tmp_path):
    model = build_distiller(tiny_eva, vfm_file)
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(1.0)
    path = model.export(str(tmp_path / 'blend.pt'), alpha=0.25)
    blended = torch.load(path, weights_only=True)
    base = torch.load(tiny_eva[1], weights_only=True)
    key = 'visual.trunk.blocks.0.attn.q_proj.weight'
    torch.testing.assert_close(blended[key], base[key] + 0.25)


@pytest.mark.slow
def test_dist_train_two_processes(tiny_eva, vfm_file, tmp_path):
    root = make_coco(str(tmp_path / 'coco'))
    args = train_args(tiny_eva, vfm_file, root, tmp_path / 'dist', 1)
    proc = run_process(['bash', 'tools/dist_train.sh', args[0], '2'] + args[1:],
                       env={'PORT': str(29600 + os.getpid() % 1000), 'PYTHON': sys.executable,
                            'OMP_NUM_THREADS': '1'})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    out = proc.output
    assert 'Distributed training: True' in out
    assert osp.isfile(tmp_path / 'dist' / 'declip_student.pt')


@pytest.mark.slow
def test_training_validates_with_region_classification(tiny_eva, vfm_file, tmp_path, run_tool):
    """val_interval 1: DeCLIP's region classification on a synthetic COCO panoptic set."""
    from declip_mmseg.testing.synthetic_data import COCO_PANOPTIC_NAMES as NAMES
    from declip_mmseg.testing.synthetic_data import make_coco_panoptic
    root = make_coco(str(tmp_path / 'coco'))
    make_coco_panoptic(root)
    names = tmp_path / 'names.txt'
    names.write_text('\n'.join(NAMES) + '\n')
    args = train_args(tiny_eva, vfm_file, root, tmp_path / 'work', 1)
    args = [a for a in args if a not in ('model.val_text_classifier=None', 'val_dataloader=None',
                                         'val_evaluator=None', 'val_cfg=None',
                                         'train_cfg.val_interval=100')]
    args += ['train_cfg.val_interval=1', f'model.val_text_classifier.class_names={names}',
             f'val_dataloader.dataset.data_root={root}', 'val_dataloader.num_workers=0',
             'val_dataloader.dataset.image_size=64', 'val_dataloader.dataset.patch_size=8']
    proc = run_tool('train', args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    out = proc.output
    for key in ('rois_thing_top1', 'rois_stuff_top5', 'maskpool_thing_top1', 'maskpool_stuff_top1'):
        assert key in out, out[-3000:]
