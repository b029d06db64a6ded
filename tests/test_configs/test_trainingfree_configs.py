"""configs/{sclip,naclip,proxyclip,maskclip,declip_proxy}: each official repo's protocol, and every
config run end to end through tools/test.py on one synthetic image per benchmark."""
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config

from declip_mmseg.apis.eval_all import (
    BENCHMARKS,
    CONFIG_SETS,
    describe_postprocess,
    method_name,
    resolve_configs,
    short_side,
)
from declip_mmseg.testing.checkpoints import TINY, dino_v1_weights, save
from declip_mmseg.testing.synthetic_data import LAYOUTS, NUM_CLASSES
from declip_mmseg.testing.tools import REPO
from declip_mmseg.text import read_class_names

PAMR = 'PAMR(num_iter=10, dilations=(8, 16))'


AREA = 'AreaThreshold(area_thd=0.1)'


# dataset: (short side, mode, window, stride, logit scale, prob_thd, post-processing)
SCLIP = {'voc21': (336, 'slide', 224, 112, 65, 0.1, AREA),
         'context60': (336, 'slide', 224, 112, 50, 0.1, 'none'),
         'coco_object': (336, 'slide', 224, 112, 50, 0.1, 'none'),
         'voc20': (336, 'slide', 224, 112, 40, 0, 'none'),
         'context59': (336, 'slide', 224, 112, 40, 0, 'none'),
         'coco_stuff164k': (448, 'slide', 224, 112, 40, 0, 'none'),
         'city_scapes': (560, 'slide', 224, 112, 40, 0, 'none'),
         'ade20k': (336, 'slide', 224, 112, 40, 0, 'none')}


NACLIP = {'voc21': (336, 'whole', 224, 112, 40, 0.1, PAMR),
          'context60': (336, 'slide', 224, 112, 40, 0.1, PAMR),
          'coco_object': (336, 'slide', 224, 112, 40, 0.1, PAMR),
          'voc20': (336, 'whole', 224, 112, 40, 0, PAMR),
          'context59': (336, 'slide', 224, 112, 40, 0, PAMR),
          'coco_stuff164k': (336, 'slide', 224, 112, 40, 0, PAMR),
          'city_scapes': (560, 'slide', 224, 112, 40, 0, PAMR),
          'ade20k': (336, 'slide', 224, 112, 40, 0, PAMR)}


PROXYCLIP = {'voc21': (336, 'slide', 336, 112, 40, 0.2, 'none'),
             'context60': (336, 'slide', 336, 112, 40, 0.15, 'none'),
             'coco_object': (336, 'slide', 336, 112, 40, 0.25, 'none'),
             'voc20': (336, 'slide', 336, 112, 40, 0, 'none'),
             'context59': (336, 'slide', 336, 112, 40, 0, 'none'),
             'coco_stuff164k': (336, 'slide', 336, 112, 40, 0, 'none'),
             'city_scapes': (448, 'slide', 224, 112, 40, 0, 'none'),
             'ade20k': (448, 'slide', 336, 112, 40, 0, 'none')}


MASKCLIP_SIDE = {'context60': 520, 'context59': 520, 'city_scapes': 512}


BACKBONES = {  # attn_mode, residual, ffn, patch_fit, class-name family
    'sclip': ('csa', True, True, 'floor', 'sclip'),
    'naclip': ('naclip', False, False, 'floor', 'sclip'),
    'proxyclip': ('proxy', False, False, 'pad', 'proxyclip'),
    'maskclip': ('identity', True, True, 'corner', 'maskclip'),
}


@pytest.mark.parametrize('method,table', [('sclip', SCLIP), ('naclip', NACLIP),
                                          ('proxyclip', PROXYCLIP)])
def test_protocol_settings(method, table):
    paths = resolve_configs(None, method)
    attn, residual, ffn, fit, family = BACKBONES[method]
    for name, path in zip(BENCHMARKS, paths):
        cfg = Config.fromfile(path)
        m = cfg.model
        got = (short_side(cfg), m.inference_mode, m.slide_crop, m.slide_stride, m.logit_scale,
               m.prob_thd, describe_postprocess(m.postprocess))
        assert got == table[name], path
        assert (m.backbone.attn_mode, m.backbone.residual, m.backbone.ffn, m.patch_fit) == \
            (attn, residual, ffn, fit)
        assert f'class_names/{family}/' in m.text_classifier.class_names
        vocab = read_class_names(m.text_classifier.class_names,
                                 m.text_classifier.get('allow_duplicate_names', False))
        assert vocab.num_classes == NUM_CLASSES[name]
        assert m.backbone.model_name == 'ViT-B-16' and m.backbone.pretrained == 'openai'
        assert method_name(path, m.backbone) == method


def test_proxy_keys_and_maskclip_protocol():
    proxy = Config.fromfile(resolve_configs(None, 'proxyclip')[0]).model.backbone.proxy
    assert proxy == dict(vfm='dino-B-8', weights='checkpoints/dino_vitbase8_pretrain.pth',
                         beta=1.2, gamma=3.0)
    for name, path in zip(BENCHMARKS, resolve_configs(None, 'maskclip')):
        cfg = Config.fromfile(path)
        m = cfg.model
        assert short_side(cfg) == MASKCLIP_SIDE.get(name, 512) and m.inference_mode == 'whole'
        assert m.data_preprocessor.mean == [123.675, 116.28, 103.53] and m.prob_thd == 0
        assert m.text_classifier.templates == 'maskclip_85'
        assert read_class_names(m.text_classifier.class_names).num_classes == NUM_CLASSES[name]
    for name, path in zip(BENCHMARKS, resolve_configs(None, 'declip_proxy')):
        cfg = Config.fromfile(path)
        declip = Config.fromfile(resolve_configs(None, 'declip')[BENCHMARKS.index(name)])
        assert cfg.model.backbone.attn_mode == 'proxy' and cfg.model.backbone.proxy == proxy
        assert cfg.model.backbone.model_name == 'EVA02-B-16'
        for key in ('logit_scale', 'prob_thd', 'slide_crop', 'slide_stride'):
            assert cfg.model[key] == declip.model[key]
        assert short_side(cfg) == short_side(declip)
        assert method_name(path, cfg.model.backbone) == 'declip_proxy'


def test_class_name_families_match_their_repos():
    """SCLIP and NACLIP share files (', '); ProxyCLIP's (';') have fewer synonyms."""
    root = osp.join(REPO, 'configs', 'class_names')
    sclip = read_class_names(osp.join(root, 'sclip', 'voc21.txt'))
    proxy = read_class_names(osp.join(root, 'proxyclip', 'voc21.txt'))
    assert len(sclip.classes[0]) == 26 and len(proxy.classes[0]) == 26
    assert sclip.classes[15][:2] == ('person', 'person in shirt') and proxy.classes[15] == ('person',)
    obj = read_class_names(osp.join(root, 'proxyclip', 'coco_object_official.txt'), True)
    assert obj.classes[0][-3:] == ('floor', 'hill', 'rail') and len(obj.classes[0]) == 17
    assert 'bed' in obj.classes[0] and ('bed',) in obj.classes  # the repos' duplicate
    sclip_obj = read_class_names(osp.join(root, 'sclip', 'coco_object.txt'), True)
    assert len(sclip_obj.classes[0]) == 26 and ('bed',) in sclip_obj.classes


# ------------------------------------------------------------------ end to end



@pytest.fixture(scope='module')
def data_roots(tmp_path_factory):
    base = tmp_path_factory.mktemp('tf_data')
    roots = {}
    for name in BENCHMARKS:
        maker, rel = LAYOUTS[name]
        root = str(base / rel)
        if not osp.isdir(root):
            maker(root, n=1)
            if rel == 'coco_stuff164k':
                from declip_mmseg.datasets.converters.coco_object import convert_coco_object
                convert_coco_object(root, splits=['val2017'])
        roots[name] = root
    return roots


@pytest.fixture(scope='module')
def tiny_dino(tmp_path_factory):
    return save(tmp_path_factory.mktemp('tf_dino'), 'dino_b8.pth', dino_v1_weights(8, seed=5))


@pytest.mark.slow
@pytest.mark.parametrize('method', ['sclip', 'naclip', 'proxyclip', 'maskclip', 'declip_proxy'])
def test_every_config_runs_end_to_end(method, tiny_clip, tiny_eva, tiny_dino, data_roots, tmp_path,
                                      run_tool):
    if method == 'declip_proxy':
        from declip_mmseg.testing.checkpoints import eva_clip_state_dict
        arch, ckpt = tiny_eva
        released = str(tmp_path / 'declip_release.pt')
        torch.save({'state_dict': eva_clip_state_dict(torch.load(ckpt, weights_only=True))},
                   released)
        model = ['--checkpoint', released]
    else:
        arch, ckpt = tiny_clip
        model = []
    runs = []
    for name, config in zip(BENCHMARKS, CONFIG_SETS[method]):
        opts = [f'model.backbone.model_name={arch}', f'test_dataloader.dataset.data_root={data_roots[name]}',
                'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
                f'experiment_name={method}_{name}',
                'model.text_classifier.templates=name']  # 1 prompt instead of 80-85: CPU time
        if not model:
            opts.append(f'model.backbone.pretrained={ckpt}')
        if method in ('proxyclip', 'declip_proxy'):
            opts += [f'model.backbone.proxy.weights={tiny_dino}', 'model.backbone.proxy.arch.img_size=32']
            opts += [f'model.backbone.proxy.arch.{k}={v}' for k, v in TINY.items()]
        runs.append([f'configs/{config}', '--work-dir', str(tmp_path / name)] + model +
                    ['--cfg-options'] + opts)
    parts = []
    for argv in runs:  # all 8 in this process, one after the other
        proc = run_tool('test', argv)
        out = proc.output
        assert proc.returncode == 0, out[-6000:]
        parts.append(out)
    assert len(parts) == 8
    for name, part in zip(BENCHMARKS, parts):
        found = re.findall(r'aAcc: ([\d.]+)\s+mIoU: ([\d.]+)\s+mAcc: ([\d.]+)', part)
        assert found and 0 <= float(found[-1][1]) <= 100, part[-3000:]
        assert 'Iter(test) [1/1]' in part, name
