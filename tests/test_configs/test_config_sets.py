"""Every shipped config parses and carries its protocol's per-dataset settings (anchors.md 1.3-1.4)."""
import os.path as osp

import pytest
from mmengine.config import Config

from declip_mmseg.apis.eval_all import BENCHMARKS, CONFIG_ROOT, CONFIG_SETS, resolve_configs, short_side
from declip_mmseg.testing.synthetic_data import NUM_CLASSES
from declip_mmseg.text import read_class_names

# dataset: (short side, window, stride, logit scale, prob_thd)
CLEARCLIP = {'voc21': (448, 448, 224, 50, 0.5), 'voc20': (448, 448, 224, 50, 0),
             'context60': (448, 448, 224, 50, 0.15), 'context59': (448, 448, 224, 50, 0),
             'city_scapes': (448, 224, 224, 50, 0), 'ade20k': (448, 448, 224, 50, 0),
             'coco_stuff164k': (448, 448, 224, 50, 0), 'coco_object': (448, 448, 224, 50, 0.4)}


DECLIP = {'voc21': (448, 336, 112, 80, 0.4), 'voc20': (448, 336, 112, 40, 0),
          'context60': (448, 336, 112, 40, 0.15), 'context59': (448, 336, 112, 40, 0),
          'city_scapes': (560, 336, 112, 40, 0), 'ade20k': (448, 336, 112, 40, 0),
          'coco_stuff164k': (448, 336, 112, 40, 0), 'coco_object': (448, 336, 112, 40, 0.2)}




@pytest.mark.parametrize('config_set,table', [('clearclip', CLEARCLIP), ('declip', DECLIP),
                                              ('densevlm', DECLIP)])
def test_protocol_settings(config_set, table):
    paths = resolve_configs(None, config_set)
    assert len(paths) == 8
    for name, path in zip(BENCHMARKS, paths):
        cfg = Config.fromfile(path)
        m = cfg.model
        assert (short_side(cfg), m.slide_crop, m.slide_stride, m.logit_scale, m.prob_thd) == \
            table[name], path
        vocab = read_class_names(m.text_classifier.class_names)
        assert vocab.num_classes == NUM_CLASSES[name]
        assert osp.isfile(m.text_classifier.class_names)


def test_backbone_settings():
    clear = Config.fromfile(osp.join(CONFIG_ROOT, 'cfg_ade20k.py')).model.backbone
    assert (clear.model_name, clear.pretrained, clear.attn_mode, clear.residual, clear.ffn,
            clear.attn_scale) == ('ViT-B-16', 'openai', 'qq', False, False, None)
    declip = Config.fromfile(osp.join(CONFIG_ROOT, 'declip', 'cfg_ade20k.py')).model.backbone
    assert (declip.model_name, declip.attn_mode, declip.residual, declip.ffn, declip.attn_scale) \
        == ('EVA02-B-16', 'csa', False, False, 1.0)
    assert declip.pretrained == 'checkpoints/evab_dinov2B_csa_560_0.25_seg.pt'
    dense = Config.fromfile(osp.join(CONFIG_ROOT, 'densevlm', 'cfg_ade20k.py')).model.backbone
    assert dense.pretrained.endswith('densevlm_coco_6_save6_512_eva_vib16_12layers.pt')


def test_config_sets_cover_all_files():
    for name, rel in CONFIG_SETS.items():
        assert all(osp.isfile(osp.join(CONFIG_ROOT, r)) for r in rel), name
    with pytest.raises(ValueError, match='unknown config set'):
        resolve_configs(None, 'nope')


def test_distillation_configs():
    cfg = Config.fromfile(osp.join(CONFIG_ROOT, 'declip_distill_coco.py'))
    opt = cfg.optim_wrapper
    assert (opt.optimizer.type, opt.optimizer.lr, opt.optimizer.weight_decay) == ('AdamW', 1e-5, 0.1)
    assert cfg.param_scheduler[0].end == 1000 and cfg.param_scheduler[1].type == 'CosineAnnealingLR'
    assert cfg.train_cfg.max_epochs == 6 and cfg.auto_scale_lr.base_batch_size == 16
    assert (cfg.model.loss_content_weight, cfg.model.loss_context_weight) == (1.0, 0.25)
    assert cfg.model.student.attn_mode == 'csa' and cfg.model.student.attn_scale == 1.0
    data = cfg.train_dataloader.dataset
    assert (data.image_size, data.crop_size, data.max_split, data.max_boxes) == (560, 224, 6, 20)
    assert data.image_size // data.student_patch * data.vfm_patch == 490
    assert cfg.custom_hooks[0].type == 'DeCLIPDistillHook' and cfg.custom_hooks[0].alpha is None
    assert cfg.default_hooks.checkpoint.interval == 1
    release = Config.fromfile(osp.join(CONFIG_ROOT, 'declip', 'declip_distill_coco_release.py'))
    assert release.model.loss_context_weight == 0.1 and release.custom_hooks[0].alpha == 0.7
    assert release.model.student.attn_mode == 'qq'
    folder = Config.fromfile(osp.join(CONFIG_ROOT, 'declip', 'declip_distill_folder.py'))
    assert folder.train_dataloader.dataset.ann_file is None and folder.val_dataloader is None
