"""One CLIP build per model, vocabulary switches without rebuilds, the registry, layering."""
import ast
import os
import os.path as osp

import numpy as np
import open_clip
import pytest
import torch
from mmseg.registry import MODELS
from PIL import Image

import declip_mmseg  # noqa: F401
from declip_mmseg import registry
from declip_mmseg.clip import factory
from declip_mmseg.text import TextEncoder, mean_over_templates

PACKAGE = osp.dirname(osp.abspath(declip_mmseg.__file__))


@pytest.fixture
def count_builds(monkeypatch):
    """Counts open_clip models created through declip_mmseg.clip.build_clip."""
    calls = []
    real = open_clip.create_model

    def create_model(*args, **kwargs):
        calls.append(args[0] if args else kwargs.get('model_name'))
        return real(*args, **kwargs)
    monkeypatch.setattr(factory.open_clip, 'create_model', create_model)
    return calls


def segmentor_cfg(tiny_clip, names, cache_dir):
    arch, ckpt = tiny_clip
    return dict(type='ZeroShotSegmentor',
                backbone=dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt, attn_mode='qq'),
                text_classifier=dict(type='ZeroShotTextClassifier', class_names=names,
                                     templates='openai_imagenet_7', cache_dir=cache_dir),
                slide_crop=32, slide_stride=16, amp_dtype=None)


def test_segmentor_builds_its_clip_once(tiny_clip, tmp_path, count_builds):
    """Image and text towers come from one build, also on a text-cache miss."""
    model = MODELS.build(segmentor_cfg(tiny_clip, ['cat', 'dog'], str(tmp_path)))
    assert len(count_builds) == 1
    assert model.text_classifier.text_encoder.builds == 0  # handed the segmentor's text tower
    # the same embeddings as a text classifier that builds its own CLIP
    alone = MODELS.build(dict(type='ZeroShotTextClassifier', class_names=['cat', 'dog'],
                              model_name=tiny_clip[0], pretrained=tiny_clip[1],
                              templates='openai_imagenet_7', cache_dir=False))
    torch.testing.assert_close(model.text_classifier.query_embeddings, alone.query_embeddings)


def test_new_vocabulary_encodes_only_the_text(tiny_clip, tmp_path, count_builds):
    model = MODELS.build(segmentor_cfg(tiny_clip, ['cat', 'dog'], str(tmp_path))).eval()
    img = torch.randn(1, 3, 40, 56)
    before = model.predict(img)[0].pred_sem_seg.data
    backbone_state = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    vocab = model.text_classifier.set_vocabulary('sky; road; tree, bush')
    assert vocab.num_classes == 3 and model.num_classes == 3
    assert model.text_classifier.query_embeddings.shape[0] == 4  # tree and bush are queries
    assert len(count_builds) == 1 and model.text_classifier.text_encoder.builds == 0
    after = model.predict(img)[0].pred_sem_seg.data
    assert after.shape == before.shape and int(after.max()) <= 2
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, backbone_state[k]), k
    # a known vocabulary comes from the cache: the text tower is not run again
    encoder = model.text_classifier.text_encoder
    encoder._clip = None  # a rebuild would now be counted
    model.text_classifier.set_vocabulary(['cat', 'dog'])
    assert encoder.builds == 0 and len(count_builds) == 1


def test_text_encoder_per_template_and_mean(tiny_clip, tmp_path):
    arch, ckpt = tiny_clip
    encoder = TextEncoder(arch, ckpt, cache_dir=str(tmp_path))
    templates = ['a photo of a {}.', 'a {} in the scene', '{}']
    per = encoder.per_template(['cat', 'dog', 'grass'], templates)
    assert per.shape == (3, 3, 32)
    torch.testing.assert_close(per.norm(dim=-1), torch.ones(3, 3))
    torch.testing.assert_close(encoder.embed(['cat', 'dog', 'grass'], templates),
                               mean_over_templates(per))
    raw = encoder.embed(['cat', 'dog', 'grass'], templates, normalize_mean=False)
    torch.testing.assert_close(raw, per.mean(dim=1))
    assert len(os.listdir(tmp_path)) == 3  # per-template, renormalised and plain means cached
    assert encoder.builds == 1


def test_distiller_builds_its_clip_once(tiny_eva, tmp_path, count_builds):
    """Student, frozen initial tower (teacher), validation text and export: one build."""
    from declip_mmseg.testing import TINY_VFM_ARCH, write_tiny_vfm
    arch, ckpt = tiny_eva
    model = MODELS.build(dict(
        type='DeCLIPDistiller',
        student=dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt, attn_mode='csa',
                     attn_scale=1.0),
        val_text_classifier=dict(type='ZeroShotTextClassifier', class_names=['cat', 'dog'],
                                 templates='name', cache_dir=str(tmp_path / 'cache'))))
    vfm = write_tiny_vfm(str(tmp_path / 'vfm.pth'))
    model.attach_teachers(torch.device('cpu'), vfm=dict(name='dinov2-B', weights=vfm,
                                                        **TINY_VFM_ARCH))
    assert model.teacher is model.initial_image_tower()
    assert not any(p.requires_grad for p in model.teacher.parameters())
    assert not any(k.startswith(('_frozen', 'text_encoder')) for k in model.state_dict())
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(0.5)
    path = model.export(str(tmp_path / 'student.pt'), alpha=0.5)
    assert len(count_builds) == 1
    saved, base = torch.load(path, weights_only=True), torch.load(ckpt, weights_only=True)
    assert set(saved) == set(base)
    key = 'visual.trunk.blocks.0.attn.q_proj.weight'
    torch.testing.assert_close(saved[key], base[key] + 0.25)
    torch.testing.assert_close(saved['text.text_projection'], base['text.text_projection'])
    # the teacher kept the initial weights
    torch.testing.assert_close(model.teacher.state_dict()['trunk.blocks.0.attn.q_proj.weight'],
                               base[key])


def test_inferencer_switches_vocabulary_and_reports_progress(tiny_clip, tmp_path, monkeypatch):
    from declip_mmseg.apis import OpenVocabInferencer
    monkeypatch.setenv('DECLIP_CACHE_DIR', str(tmp_path / 'cache'))
    arch, ckpt = tiny_clip
    repo = osp.dirname(PACKAGE)
    infer = OpenVocabInferencer(osp.join(repo, 'configs', 'demo.py'), classes='red; green',
                                cfg_options={'model.backbone.model_name': arch,
                                             'model.backbone.pretrained': ckpt,
                                             'model.slide_crop': 32, 'model.slide_stride': 16})
    path = str(tmp_path / 'photo.png')
    Image.fromarray((np.random.default_rng(0).random((40, 60, 3)) * 255).astype(np.uint8)) \
        .save(path)
    steps = []
    result = infer(path, progress=lambda done, total: steps.append((done, total)))
    assert result.labels.shape == (40, 60) and result.class_names == ['red', 'green']
    assert steps and steps[-1][0] == steps[-1][1] and all(d <= t for d, t in steps)
    assert infer.model.progress is None  # the callback is only set during the call
    model = infer.model
    infer.set_classes('sky; road; tree')
    assert infer.model is model and infer.class_names == ['sky', 'road', 'tree']
    result = infer(path)
    assert set(np.unique(result.labels)) <= {0, 1, 2}
    assert abs(sum(pct for _, pct in result.areas()) - 100.0) < 1e-6
    overlay = infer.overlay(result)
    assert overlay.shape[0] >= 40 and overlay.shape[1] > 60


def test_registry_lists_every_extension_table():
    assert {'qq', 'kk', 'vv', 'csa', 'qk', 'all', 'naclip', 'identity'} <= set(registry.ATTN_MODES)
    assert {'dinov2-B', 'dinov2-L', 'dino-B-8', 'dino-B-16', 'sam-B', 'sam-L'} == set(registry.VFMS)
    assert set(registry.CHECKPOINT_FORMATS) == {'eva_clip', 'split_qkv'}  # split_qkv: CAT-Seg's OpenAI
    assert {'declip', 'densevlm'} == set(registry.GRID_STYLES)
    assert {'pad', 'floor', 'corner'} == set(registry.PATCH_FITS)
    assert {'openai_imagenet', 'densevlm_hand_craft', 'name'} <= set(registry.TEMPLATE_SETS)
    assert len(registry.TOWERS) == 2
    from declip_mmseg.models.segmentors.postprocess import postprocess_steps
    assert postprocess_steps() == ['AreaThreshold', 'PAMR']  # in mmseg's MODELS
    assert MODELS.get('DeCLIPViT') is MODELS.get('DenseCLIPViT')


def _imports(path):
    """(module, level, is_function_level) of every import in a file."""
    tree = ast.parse(open(path).read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom):
                    found.append((inner.module or '', inner.level, True))
                elif isinstance(inner, ast.Import):
                    found += [(a.name, 0, True) for a in inner.names]
    top = [(n.module or '', n.level, False) for n in tree.body if isinstance(n, ast.ImportFrom)]
    top += [(a.name, 0, False) for n in tree.body if isinstance(n, ast.Import) for a in n.names]
    return found + top


def test_models_never_import_engine_or_apis():
    """models/ -> engine/ or apis/ would be a back-edge; package-own imports are top-level."""
    for root, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith('.py'):
                continue
            path = osp.join(root, name)
            rel = osp.relpath(path, PACKAGE)
            for module, level, in_function in _imports(path):
                own = level > 0 or module.startswith('declip_mmseg')
                if rel.startswith('models'):
                    assert not (own and ('engine' in module.split('.') or 'apis' in
                                         module.split('.'))), (rel, module)
                assert not (own and in_function), f'{rel}: function-level import of {module}'
