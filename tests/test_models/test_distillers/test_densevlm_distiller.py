"""DenseVLM training: vocabulary, text embeddings, teacher, loss wiring, training, resume, export.

The student is the tiny EVA02 CLIP of conftest; the teacher another tiny EVA02 CLIP (wider,
patch 7, so the input is not a multiple of its patch, as L/14 at 512), both saved to files
in open_clip's format and loaded through the real paths."""
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

from declip_mmseg.datasets.grid_distill import GridDistillDataset
from declip_mmseg.testing import TINY_EVA_TEACHER_ARCH as TEACHER_ARCH
from declip_mmseg.testing import write_tiny_clip
from declip_mmseg.testing.reference import densevlm_loss_reference as reference
from declip_mmseg.testing.synthetic_data import make_coco, make_images
from declip_mmseg.testing.tools import REPO, run_process

NAMES = ['person', 'car, automobile', 'dog', 'cupboard', 'house', 'sky', 'grass', 'cupboard']
THINGS = 4


@pytest.fixture(scope='module')
def tiny_teacher(tmp_path_factory):
    return write_tiny_clip(str(tmp_path_factory.mktemp('tiny_teacher')), name='TinyEVATeacher',
                           seed=1, arch=TEACHER_ARCH)


@pytest.fixture(scope='module')
def names_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('names') / 'vocab.txt'
    path.write_text('\n'.join(NAMES) + '\n')
    return str(path)


def build(tiny_eva, tiny_teacher, names_file, attach=True, **kw):
    from mmseg.registry import MODELS

    import declip_mmseg  # noqa: F401
    arch, ckpt = tiny_eva
    cfg = dict(type='DenseVLMDistiller',
               student=dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt,
                            attn_mode='identity', residual=True, ffn=True),
               class_names=names_file, templates='densevlm_hand_craft', num_thing_classes=THINGS,
               min_confidence=0.0)
    cfg.update(kw)
    model = MODELS.build(cfg)
    if attach:
        model.attach_teachers(torch.device('cpu'),
                              teacher=dict(model_name=tiny_teacher[0], pretrained=tiny_teacher[1]))
    return model


def batch(root, n=2):
    from mmengine.dataset import default_collate
    ds = GridDistillDataset(data_root=root, img_dir='train2017',
                            ann_file='annotations/instances_train2017.json', image_size=64,
                            student_patch=8, grid_style='densevlm', max_boxes=36,
                            with_crops=False, with_vfm_view=False)
    return default_collate([ds[i] for i in range(n)])


# -- vocabulary, templates, grid ---------------------------------------------------------------
def test_vocabulary_file_and_templates():
    from declip_mmseg.text import load_vocabulary
    from declip_mmseg.text.templates import fill_template, get_templates
    vocab = load_vocabulary(osp.join(REPO, 'configs/class_names/densevlm/thing204_stuff112.txt'),
                            split_synonyms=False)
    assert vocab.num_classes == len(vocab.queries) == 316
    assert vocab.queries[0] == 'motorcycle' and vocab.queries[203] == 'house'
    assert vocab.queries[204] == 'banner' and vocab.queries.count('cupboard') == 2
    assert any(',' in q for q in vocab.queries)                  # names kept whole
    templates = get_templates('densevlm_hand_craft')
    assert len(templates) == 63 and sum(t.startswith('This is ') for t in templates) == 58
    assert fill_template(templates[0], 'apple') == 'There is an apple in the scene.'
    assert fill_template(templates[3], 'sky') == 'This is a photo of the sky in the scene.'


# -- text embeddings ---------------------------------------------------------------------------
def test_unnormalized_mean_embeddings(tiny_eva, names_file):
    """normalize_mean=False is DenseVLM's generator: mean of unit-norm prompt embeddings."""
    import open_clip

    from declip_mmseg.clip import build_clip, resolve_model_name
    from declip_mmseg.models import ZeroShotTextClassifier
    from declip_mmseg.text.templates import fill_template, get_templates
    arch, ckpt = tiny_eva
    clf = ZeroShotTextClassifier(names_file, model_name=arch, pretrained=ckpt,
                                 templates='densevlm_hand_craft', split_synonyms=False,
                                 normalize_mean=False)
    assert clf.query_embeddings.shape == (8, 32)
    clip = build_clip(arch, ckpt)
    tok = open_clip.get_tokenizer(resolve_model_name(arch))
    name = NAMES[1]                                       # 'car, automobile' as one name
    texts = [fill_template(t, name) for t in get_templates('densevlm_hand_craft')]
    with torch.no_grad():
        expected = F.normalize(clip.encode_text(tok(texts)), dim=-1).mean(0)
    torch.testing.assert_close(clf.query_embeddings[1], expected, atol=1e-5, rtol=1e-5)
    assert clf.query_embeddings.norm(dim=1).max() < 1 - 1e-4


def test_embedding_files(tiny_eva, tiny_teacher, names_file, tmp_path):
    student = tmp_path / 'uvlm.npy'
    teacher = tmp_path / 'pvlm.npy'
    rng = np.random.default_rng(0)
    np.save(student, rng.normal(size=(8, 32)).astype(np.float32) * 0.1)
    np.save(teacher, rng.normal(size=(8, 24)).astype(np.float32) * 0.1)
    model = build(tiny_eva, tiny_teacher, names_file, student_text_embeddings=str(student),
                  teacher_text_embeddings=str(teacher))
    torch.testing.assert_close(model.get_teacher('student_text'), torch.from_numpy(np.load(student)))
    torch.testing.assert_close(model.get_teacher('teacher_text'), torch.from_numpy(np.load(teacher)))
    with pytest.raises(FileNotFoundError, match='missing.npy.*lyhisme/DenseVLM'):
        build(tiny_eva, tiny_teacher, names_file, attach=False,
              student_text_embeddings=str(tmp_path / 'missing.npy'))
    np.save(tmp_path / 'short.npy', np.zeros((7, 32), np.float32))
    with pytest.raises(ValueError, match=r'has 7 classes but the vocabulary .*vocab.txt has 8'):
        build(tiny_eva, tiny_teacher, names_file, attach=False,
              teacher_text_embeddings=str(tmp_path / 'short.npy'))
    with pytest.raises(ValueError, match='24 channels but the student model outputs 32'):
        build(tiny_eva, tiny_teacher, names_file, student_text_embeddings=str(teacher))


def test_missing_teacher_names_file_and_source(tiny_eva, tiny_teacher, names_file, tmp_path):
    model = build(tiny_eva, tiny_teacher, names_file, attach=False)
    missing = str(tmp_path / 'clipself_coco_6_save6_512_eva_vitl14_24layers.pt')
    with pytest.raises(FileNotFoundError, match=r'clipself_coco_6_save6.*lyhisme/DenseVLM'):
        model.attach_teachers(torch.device('cpu'),
                              teacher=dict(model_name=tiny_teacher[0], pretrained=missing))
    with pytest.raises(RuntimeError, match='no teacher attached'):
        model.loss(torch.zeros(1, 3, 64, 64), dict(boxes=torch.zeros(1, 4, 5)))


# -- the loss on a batch ----------------------------------------------------------------------
def test_loss_equals_direct_recomputation(tiny_eva, tiny_teacher, names_file, tmp_path):
    model = build(tiny_eva, tiny_teacher, names_file, min_confidence=0.2)
    data = batch(make_coco(str(tmp_path)))
    x, boxes = data['inputs'], data['data_samples']['boxes']
    with torch.no_grad():
        out = model.loss(x, data['data_samples'])
        rois = [b[b[:, 4] > 0.5, :4] for b in boxes]
        teacher = model.teacher
        t_map = F.normalize(teacher(x[..., :63, :63])[0], dim=1)        # 9 x 9 tokens of 7 px
        assert t_map.shape[-1] == 9
        t = roi_align(t_map, [r * 9 for r in rois], (1, 1), 1.0, -1, True)[..., 0, 0]
        s_map = F.normalize(model.student(x)[0], dim=1)
        s = roi_align(s_map, [r * 8 for r in rois], (1, 1), 1.0, -1, True)[..., 0, 0]
    expected = reference(t, s, model.get_teacher('teacher_text'),
                         model.get_teacher('student_text'), thing=THINGS, thr=0.2)
    assert expected is not None
    assert abs(float(out['loss_kl']) - expected) < 1e-4 * max(1.0, expected)
    assert int(out['regions_kept']) == int(out['regions_thing'] + out['regions_stuff']) > 0


def test_training_steps(tiny_eva, tiny_teacher, names_file, tmp_path):
    """Loss decreases; only the allowed student parameters get gradients; teacher unchanged."""
    model = build(tiny_eva, tiny_teacher, names_file)
    data = batch(make_coco(str(tmp_path)))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith('student.tower.visual.trunk.blocks.') for n in trainable)
    blocks = {n.split('.')[5] for n in trainable}
    assert blocks == {'0', '1', '2'}                           # all blocks train
    last = 'student.tower.visual.trunk.blocks.2.attn.'
    assert not any(n.startswith(last + 'q_proj') or n.startswith(last + 'k_proj')
                   for n in trainable)                         # unused by the value path
    assert last + 'v_proj.weight' in trainable \
        and 'student.tower.visual.trunk.blocks.2.mlp.fc1_g.weight' in trainable
    frozen = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    teacher = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    history = []
    for _ in range(8):
        loss = model.loss(data['inputs'], data['data_samples'])['loss_kl']
        optim.zero_grad()
        loss.backward()
        for name, p in model.named_parameters():
            assert (p.grad is None) == (name in frozen), name
        optim.step()
        history.append(float(loss))
    assert np.isfinite(history).all() and history[-1] < 0.7 * history[0], history
    for name, p in model.named_parameters():
        if name in frozen:
            assert torch.equal(p, frozen[name]), name
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher[k]), k
    assert not any(p.requires_grad for p in model.teacher.parameters())


# -- training through tools/train.py ------------------------------------------------------------
def train_args(tiny_eva, tiny_teacher, names_file, root, work_dir, epochs, config='densevlm_coco'):
    arch, ckpt = tiny_eva
    return [f'configs/densevlm/{config}.py', '--work-dir', str(work_dir),
            '--cfg-options', f'model.student.model_name={arch}', f'model.student.pretrained={ckpt}',
            f'model.class_names={names_file}', f'model.num_thing_classes={THINGS}',
            'model.val_text_classifier=None',
            f'train_dataloader.dataset.data_root={root}', 'train_dataloader.dataset.image_size=64',
            'train_dataloader.dataset.student_patch=8', 'train_dataloader.num_workers=0',
            'train_dataloader.batch_size=2', f'train_cfg.max_epochs={epochs}',
            'train_cfg.val_interval=100', 'val_dataloader=None', 'val_evaluator=None',
            'val_cfg=None', 'param_scheduler.0.warmup=2', 'param_scheduler.0.end=2',
            'optim_wrapper.optimizer.lr=1e-3', 'default_hooks.logger.interval=1',
            f'custom_hooks.0.teachers.teacher.model_name={tiny_teacher[0]}',
            f'custom_hooks.0.teachers.teacher.pretrained={tiny_teacher[1]}']


def student_weights(path):
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    return {k: v for k, v in ckpt['state_dict'].items() if k.startswith('student.')}


@pytest.mark.slow
def test_train_resume_export(tiny_eva, tiny_teacher, names_file, tmp_path, run_tool):
    root = make_coco(str(tmp_path / 'coco'), n=4)
    whole = tmp_path / 'whole'
    proc = run_tool('train', train_args(tiny_eva, tiny_teacher, names_file, root, whole, 2))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    out = proc.output
    assert 'loss_kl' in out and 'regions_kept' in out and 'DenseVLM distillation' in out
    export = whole / 'densevlm_student.pt'
    assert osp.isfile(whole / 'epoch_2.pth') and osp.isfile(export)
    part = tmp_path / 'part'
    proc = run_tool('train', train_args(tiny_eva, tiny_teacher, names_file, root, part, 1))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    proc = run_tool('train', train_args(tiny_eva, tiny_teacher, names_file, root, part, 2) + ['--resume'])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    out = proc.output
    assert 'resumed' in out.lower()
    a, b = student_weights(whole / 'epoch_2.pth'), student_weights(part / 'epoch_2.pth')
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    # export = 0.9 * trained + 0.1 * initial, a full CLIP that the zero-shot segmentor loads
    exported = torch.load(export, weights_only=True)
    base = torch.load(tiny_eva[1], weights_only=True)
    key = 'visual.trunk.blocks.0.attn.v_proj.weight'
    trained = a['student.tower.visual.trunk.blocks.0.attn.v_proj.weight']
    torch.testing.assert_close(exported[key], 0.9 * trained + 0.1 * base[key], atol=1e-6, rtol=0)
    assert torch.equal(exported['text.text_projection'], base['text.text_projection'])
    from mmseg.registry import MODELS
    arch = tiny_eva[0]

    def segment(weights):
        model = MODELS.build(dict(
            type='ZeroShotSegmentor',
            backbone=dict(type='DeCLIPViT', model_name=arch, pretrained=weights,
                          attn_mode='identity', residual=True, ffn=True),
            text_classifier=dict(type='ZeroShotTextClassifier', class_names=['cat', 'dog', 'sky'],
                                 templates='photo'),
            slide_crop=32, slide_stride=16)).eval()
        with torch.no_grad():
            return model._forward(torch.randn(1, 3, 40, 56,
                                              generator=torch.Generator().manual_seed(0)))
    assert (segment(tiny_eva[1]) - segment(str(export))).abs().max() > 1e-4


@pytest.mark.slow
def test_folder_config_and_dist_train(tiny_eva, tiny_teacher, names_file, tmp_path):
    """densevlm_folder.py on a plain image folder, two processes with real gradient averaging."""
    make_images(str(tmp_path / 'imgs' / 'sub'), n=4)
    args = train_args(tiny_eva, tiny_teacher, names_file, '', tmp_path / 'dist', 1,
                      config='densevlm_folder')
    args = [a for a in args if not a.startswith('train_dataloader.dataset.data_root')]
    args += [f'train_dataloader.dataset.img_dir={tmp_path / "imgs"}']
    proc = run_process(['bash', 'tools/dist_train.sh', args[0], '2'] + args[1:],
                       env={'PORT': str(29700 + os.getpid() % 1000), 'PYTHON': sys.executable,
                            'OMP_NUM_THREADS': '1'})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    out = proc.output
    assert 'Distributed training: True' in out
    assert osp.isfile(tmp_path / 'dist' / 'densevlm_student.pt')


@pytest.mark.slow
def test_training_validates_with_densevlm_region_classification(tiny_eva, tiny_teacher,
                                                                names_file, tmp_path, run_tool):
    """val_interval 1: DenseVLM's COCO panoptic region classification (its metric keys)."""
    from declip_mmseg.testing.synthetic_data import COCO_PANOPTIC_NAMES as COCO_NAMES
    from declip_mmseg.testing.synthetic_data import make_coco_panoptic
    root = make_coco(str(tmp_path / 'coco'))
    make_coco_panoptic(root)
    coco_names = tmp_path / 'coco_names.txt'
    coco_names.write_text('\n'.join(COCO_NAMES) + '\n')
    args = train_args(tiny_eva, tiny_teacher, names_file, root, tmp_path / 'work', 1)
    args = [a for a in args if a not in ('model.val_text_classifier=None', 'val_dataloader=None',
                                         'val_evaluator=None', 'val_cfg=None',
                                         'train_cfg.val_interval=100')]
    args += ['train_cfg.val_interval=1', f'model.val_text_classifier.class_names={coco_names}',
             f'val_dataloader.dataset.data_root={root}', 'val_dataloader.num_workers=0',
             'val_dataloader.dataset.image_size=64', 'val_dataloader.dataset.patch_size=8']
    proc = run_tool('train', args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    out = proc.output
    for key in ('rois.thing.macc1', 'rois.stuff.macc5', 'maskpool.thing.macc1',
                'maskpool.stuff.macc1'):
        assert key in out, out[-3000:]


def test_predict_uses_normalized_tokens(tiny_eva, tiny_teacher, names_file):
    """The distiller's validation equals DenseRegionClassifier(normalize_tokens=True)."""
    from mmseg.registry import MODELS
    arch, ckpt = tiny_eva
    clf = dict(type='ZeroShotTextClassifier', class_names=['a', 'b', 'c'], templates='photo')
    model = build(tiny_eva, tiny_teacher, names_file, attach=False, val_text_classifier=clf)
    ref = MODELS.build(dict(type='DenseRegionClassifier', normalize_tokens=True, text_classifier=clf,
                            backbone=dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt,
                                          attn_mode='identity', residual=True, ffn=True)))
    x = torch.randn(3, 64, 64, generator=torch.Generator().manual_seed(1))
    masks = torch.zeros(2, 8, 8, dtype=torch.bool)
    masks[0, :3] = True
    masks[1, 3:, 2:] = True
    sample = dict(boxes=torch.tensor([[0.0, 0.0, 1.0, 0.4], [0.25, 0.4, 1.0, 1.0]]), masks=masks)
    model.eval()
    a, b = model.predict([x], [sample])[0], ref([x], [sample])[0]
    for key in ('rois_logits', 'maskpool_logits'):
        torch.testing.assert_close(a[key], b[key])


def _ddp_worker(rank, world, init_file, tiny_eva, tiny_teacher, names_file, root, out):
    """One rank: a DenseVLM step through mmengine's DDP wrapper on this rank's own images."""
    from mmengine.dataset import default_collate
    from mmengine.model import MMDistributedDataParallel
    from mmengine.optim import OptimWrapper
    torch.set_num_threads(1)
    torch.distributed.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                                         world_size=world)
    model = build(tiny_eva, tiny_teacher, names_file)
    ddp = MMDistributedDataParallel(module=model, device_ids=None, broadcast_buffers=False)
    optim = OptimWrapper(torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                           lr=1e-2))
    ds = GridDistillDataset(data_root=root, img_dir='train2017',
                            ann_file='annotations/instances_train2017.json', image_size=64,
                            student_patch=8, grid_style='densevlm', max_boxes=36,
                            with_crops=False, with_vfm_view=False)
    data = default_collate([ds[2 * rank], ds[2 * rank + 1]])
    ddp.train_step(data, optim)
    torch.save({k: v for k, v in model.student.state_dict().items()}, f'{out}/rank{rank}.pt')
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ddp_averages_gradients(tiny_eva, tiny_teacher, names_file, tmp_path):
    """Two ranks with different images end the step with the same weights (DenseVLM's own
    code bypasses DDP, so its ranks drift apart)."""
    import torch.multiprocessing as mp
    root = make_coco(str(tmp_path / 'coco'), n=4)
    mp.spawn(_ddp_worker, nprocs=2, args=(2, str(tmp_path / 'init'), tiny_eva, tiny_teacher,
                                          names_file, root, str(tmp_path)))
    a = torch.load(tmp_path / 'rank0.pt', weights_only=True)
    b = torch.load(tmp_path / 'rank1.pt', weights_only=True)
    initial = build(tiny_eva, tiny_teacher, names_file, attach=False).student.state_dict()
    key = 'tower.visual.trunk.blocks.1.attn.v_proj.weight'
    assert not torch.equal(a[key], initial[key])                  # it trained
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
