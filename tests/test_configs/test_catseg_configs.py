"""configs/catseg: names, the keys the parity contract reads, and what each protocol sets."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs', 'catseg')
DATASETS = {'ade847': 847, 'pc459': 459, 'ade150': 150, 'pc59': 59, 'voc20': 20, 'voc21': 59}
BACKBONES = ('declip-eva02-b16', 'declip-eva02-l14', 'vit-b16', 'vit-l14-336', 'densevlm-eva02-b16')
EVAL = [osp.join(ROOT, f'catseg_{b}_{d}.py') for b in BACKBONES for d in DATASETS]
TRAIN = sorted(glob.glob(osp.join(ROOT, '*coco*.py')))


def test_every_backbone_and_dataset_has_a_config():
    assert sorted(glob.glob(osp.join(ROOT, 'catseg_*.py'))) == sorted(EVAL + TRAIN)
    assert [osp.basename(p) for p in TRAIN] == [
        'catseg_declip-eva02-b16_4xb1-80k_coco-stuff164k-384x384.py',
        'catseg_densevlm-eva02-b16_4xb1-80k_coco-stuff164k-384x384.py']


@pytest.mark.parametrize('path', EVAL, ids=osp.basename)
def test_evaluation_config_keys(path):
    cfg = Config.fromfile(path, import_custom_modules=False)
    m = cfg.model
    dataset = next(d for d in DATASETS if path.endswith(f'_{d}.py'))
    assert m.type == 'CATSeg' and m.checkpoint and not m.backbone.get('pretrained')
    assert isinstance(m.text_classifier.class_names, list)
    assert len(m.text_classifier.class_names) == DATASETS[dataset]
    assert m.text_classifier.templates == ['A photo of a {} in the scene']
    assert m.inference_mode == 'slide' and tuple(m.aggregator.pooling_sizes) == (1, 1)
    large = 'l14' in path
    assert tuple(m.guidance_layers) == ((7, 15) if large else (3, 7))
    assert tuple(m.clip_resolution) == ((336, 336) if large else (384, 384))
    assert m.aggregator.text_guidance_dim == (768 if large else 512)
    assert m.get('merge_labels_from') == (20 if dataset == 'voc21' else None)
    assert cfg.test_evaluator.ignore_index == {'ade847': 65535, 'pc459': 459}.get(dataset, 255)
    classes = cfg.test_dataloader.dataset.metainfo.classes
    assert len(classes) == (21 if dataset == 'voc21' else DATASETS[dataset])


def test_declip_b16_settings():
    m = Config.fromfile(EVAL[0], import_custom_modules=False).model
    assert (m.backbone.model_name, m.backbone.attn_mode, m.backbone.attn_scale) == ('EVA02-B-16', 'csa', 1.0)
    assert (m.dense_path, m.dense_normalize) == ('decoupled', True)
    assert osp.basename(m.checkpoint) == 'CATSeg_DeCLIP_EVA-B_DINOv2-B_csa_0.05_2.0.pth'
    openai = Config.fromfile(osp.join(ROOT, 'catseg_vit-b16_ade150.py'), import_custom_modules=False).model
    assert (openai.dense_path, openai.dense_normalize, openai.backbone.quick_gelu) == \
        ('value_cls', False, True)


def test_training_config():
    cfg = Config.fromfile(TRAIN[0], import_custom_modules=False)
    m = cfg.model
    assert m.checkpoint is None and m.backbone.pretrained
    assert len(m.text_classifier.class_names) == 171
    assert m.inference_mode == 'whole' and tuple(m.aggregator.pooling_sizes) == (2, 2)
    assert m.ignore_as_negative is True and m.clip_finetune == 'attention'
    opt = cfg.optim_wrapper
    assert (opt.optimizer.type, opt.optimizer.lr, opt.optimizer.weight_decay) == ('AdamW', 2e-4, 1e-4)
    assert opt.clip_grad.max_norm == 0.01 and opt.paramwise_cfg.norm_decay_mult == 0.0
    assert opt.paramwise_cfg.custom_keys['backbone.'].lr_mult == 0.01
    assert cfg.train_cfg.max_iters == 80000 and cfg.param_scheduler[0].T_max == 80000
    assert cfg.train_dataloader.batch_size == 1 and cfg.auto_scale_lr.base_batch_size == 4
    assert [h.type for h in cfg.custom_hooks] == ['CATSegExportHook']


def test_class_lists_equal_the_class_name_files():
    files = dict(ade847='ade847', pc459='pc459', ade150='ade150', pc59='pc59', voc20='voc20',
                 voc21='voc21', coco_stuff164k='coco_stuff')
    base = osp.join(osp.dirname(ROOT), '_base_', 'datasets')
    for dataset, name in files.items():
        lines = Config.fromfile(osp.join(base, f'catseg_{dataset}.py'),
                                import_custom_modules=False).class_names
        with open(osp.join(osp.dirname(ROOT), 'class_names', 'catseg', f'{name}.txt')) as f:
            assert lines == f.read().splitlines(), dataset


def test_eval_all_set_and_spreadsheet_row():
    from declip_mmseg.apis.eval_all import resolve_configs, result_row
    paths = resolve_configs(config_set='catseg')
    assert [osp.basename(p) for p in paths] == [
        f'catseg_declip-eva02-b16_{d}.py' for d in ('ade847', 'pc459', 'ade150', 'pc59', 'voc20', 'voc21')]
    cfg = Config.fromfile(paths[0], import_custom_modules=False)
    row = result_row(paths[0], cfg, {'mIoU': 15.2}, 'today')
    assert row['weights'].endswith('CATSeg_DeCLIP_EVA-B_DINOv2-B_csa_0.05_2.0.pth')
    assert row['class_names'].startswith('847 class lines') and row['inference_mode'] == 'slide'
