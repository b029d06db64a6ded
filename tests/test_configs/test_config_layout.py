"""The configs tree: every config loads, nothing is deleted on inheritance, test pipelines are
written once, moved configs are found, and tools/benchmark.py builds each method from its config."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from declip_mmseg.apis.benchmark import METHOD_CONFIGS, build_method, read_config
from declip_mmseg.apis.config import MOVED_CONFIGS, load_config
from declip_mmseg.testing.tools import REPO

CONFIG_ROOT = osp.join(REPO, 'configs')
ALL_FILES = sorted(glob.glob(osp.join(CONFIG_ROOT, '**', '*.py'), recursive=True))
CONFIGS = [p for p in ALL_FILES if '_base_' not in osp.relpath(p, CONFIG_ROOT).split(osp.sep)]


def rel(path):
    return osp.relpath(path, CONFIG_ROOT)


def test_no_config_deletes_what_it_inherits():
    assert [rel(p) for p in ALL_FILES if '_delete_' in open(p).read()] == []


@pytest.mark.parametrize('path', CONFIGS, ids=rel)
def test_every_config_loads(path):
    cfg = Config.fromfile(path)
    assert cfg.model.type and cfg.default_scope == 'mmseg'


def test_test_pipelines_only_in_pipelines_file():
    steps = ('LoadImageWithPillowFallback', 'LoadAnnotationsKeepShape', 'PackSegInputs', "'Resize'")
    written = [(rel(p), s) for p in ALL_FILES if osp.basename(p) != '_pipelines.py'
               for s in steps if s in open(p).read()]
    assert written == []


def test_moved_configs_are_named_with_their_new_path(tmp_path):
    for name, new in MOVED_CONFIGS.items():
        assert osp.isfile(osp.join(REPO, new)), new
        with pytest.raises(FileNotFoundError, match=f'moved to {new!r}'):
            load_config(f'configs/{name}')
    with pytest.raises(FileNotFoundError, match=r'does not exist$'):
        load_config(str(tmp_path / 'nope.py'))
    # the mission's entry point stays, with its work dir
    cfg = load_config(osp.join(CONFIG_ROOT, 'declip_distill_coco.py'))
    assert cfg.work_dir == './work_dirs/declip_distill_coco'
    assert cfg.model == Config.fromfile(osp.join(CONFIG_ROOT, 'declip',
                                                 'declip_distill_coco.py')).model


@pytest.mark.parametrize('method', sorted(set(METHOD_CONFIGS) - {'catseg'}))  # catseg: own test
def test_benchmark_builds_each_method_from_its_config(method, tiny_clip):
    want = read_config(METHOD_CONFIGS[method]).model
    model = build_method(method, tiny_clip[0], num_classes=3, amp_dtype=None)
    assert (model.inference_mode, model.logit_scale, model.patch_fit) == \
        (want.inference_mode, want.logit_scale, want.get('patch_fit', 'pad'))
    if want.inference_mode == 'slide':
        assert (model.slide_crop, model.slide_stride) == (want.slide_crop, want.slide_stride)
    bb = want.backbone
    assert (model.backbone.attn_mode, model.backbone.residual, model.backbone.ffn) == \
        (bb.attn_mode, bb.residual, bb.ffn)
    assert [type(s).__name__ for s in model.postprocess] == \
        [s['type'] for s in want.get('postprocess', [])]
