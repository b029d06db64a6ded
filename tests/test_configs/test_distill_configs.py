"""The distillation configs (RegionCLIP, CLIPSelf, DenseVLM) carry their methods' settings."""
import os.path as osp

from mmengine.config import Config

from declip_mmseg.testing.tools import REPO


def test_config_settings():
    root = osp.join(REPO, 'configs')
    dv = Config.fromfile(osp.join(root, 'densevlm', 'densevlm_coco.py'))
    assert dv.model.type == 'DenseVLMDistiller' and dv.model.num_thing_classes == 203
    assert (dv.model.temperature, dv.model.min_confidence) == (100.0, 0.3)
    s = dv.model.student
    assert (s.model_name, s.attn_mode, s.residual, s.ffn) == ('EVA02-B-16', 'identity', True, True)
    data = dv.train_dataloader
    assert (data.batch_size, data.dataset.image_size, data.dataset.grid_style,
            data.dataset.max_boxes, data.dataset.with_crops) == (16, 512, 'densevlm', 36, False)
    opt = dv.optim_wrapper
    assert (opt.type, opt.dtype, opt.optimizer.lr, opt.optimizer.weight_decay,
            opt.optimizer.betas, opt.optimizer.eps) == ('AmpOptimWrapper', 'float16', 1e-5, 0.1,
                                                        (0.9, 0.999), 1e-8)
    assert dv.auto_scale_lr.base_batch_size == 64 and dv.train_cfg.max_epochs == 6
    assert [p.type for p in dv.param_scheduler] == ['WarmupCosineLR']
    assert dv.param_scheduler[0].warmup == 1000
    hook = dv.custom_hooks[0]
    assert (hook.type, hook.alpha) == ('DistillHook', 0.9)
    assert hook.teachers.teacher.model_name == 'EVA02-L-14-336'
    assert hook.teachers.teacher.pretrained.endswith('clipself_coco_6_save6_512_eva_vitl14_24layers.pt')
    cs = Config.fromfile(osp.join(root, 'clipself', 'clipself_coco.py'))
    assert cs.model.type == 'CLIPSelfDistiller' and cs.custom_hooks[0].alpha == 0.7
    assert cs.train_dataloader.dataset.with_crops and cs.train_dataloader.dataset.crop_size == 224
    rc = Config.fromfile(osp.join(root, 'regionclip', 'regionclip_coco.py'))
    assert rc.model.type == 'RegionCLIPDistiller' and rc.custom_hooks[0].alpha == 0.7
    assert rc.model.num_sample_classes == 100
    assert (rc.train_dataloader.dataset.type, rc.train_dataloader.dataset.max_boxes) == \
        ('RegionCLIPDataset', 20)
    folder = Config.fromfile(osp.join(root, 'densevlm', 'densevlm_folder.py'))
    assert folder.train_dataloader.dataset.ann_file is None and folder.val_dataloader is None
    for name, dataset in (('densevlm_region_cls_coco.py', 'COCOPanopticRegionDataset'),
                          ('densevlm_region_cls_ade.py', 'ADE20KPanopticRegionDataset')):
        ev = Config.fromfile(osp.join(root, 'densevlm', name))
        assert ev.test_dataloader.dataset.type == dataset and ev.model.normalize_tokens
        assert ev.test_dataloader.dataset.image_size == 512
        assert ev.test_evaluator.key_format == '{method}.{kind}.macc{k}'
