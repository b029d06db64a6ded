"""apis/config.py and apis/checks.py: --cfg-options keys, config values, empty weight sources,
checked before any work by every entry point."""
import os.path as osp

import pytest

from declip_mmseg.apis.checks import ConfigValueError, check_config_values, check_value
from declip_mmseg.apis.config import load_config
from declip_mmseg.testing.tools import REPO

VOC20 = osp.join(REPO, 'configs', 'cfg_voc20.py')
TRAIN = osp.join(REPO, 'configs', 'declip', 'declip_distill_coco.py')


def test_unknown_top_level_option_is_refused_with_the_closest_key():
    with pytest.raises(ConfigValueError) as err:
        load_config(VOC20, cfg_options={'test_dataloder.dataset.data_root': '/data/voc'})
    msg = str(err.value)
    assert "no top-level key 'test_dataloder'" in msg
    assert "did you mean 'test_dataloader' (test_dataloader.dataset.data_root=...)" in msg
    with pytest.raises(ConfigValueError, match="no top-level key 'zzz'.*top-level keys are"):
        load_config(VOC20, cfg_options={'zzz': 1})
    # keys the Runner reads are fine even when the config does not set them
    assert load_config(VOC20, cfg_options={'randomness.seed': 1}).randomness.seed == 1


@pytest.mark.parametrize('options, message', [
    ({'model.prob_thd': 50}, r'model.prob_thd=50: .*percentage; write model.prob_thd=0.5'),
    ({'model.prob_thd': -0.1}, r'must be in \[0, 1\]'),
    ({'model.prob_thd': [0, 5]}, r'model.prob_thd=0,5: a decimal comma\? Write model.prob_thd=0.5'),
    ({'model.prob_thd': '0,5'}, r'decimal comma'),
    ({'model.prob_thd': '0.5'}, r'expected a number, got text'),
    ({'model.logit_scale': 0}, r'model.logit_scale=0: must be > 0'),
    ({'model.slide_stride': 500}, r'model.slide_stride=500 is larger than model.slide_crop'),
    ({'model.slide_stride': 0}, r'model.slide_stride=0: must be a whole number >= 1'),
    ({'test_dataloader.batch_size': 0}, r'test_dataloader.batch_size=0'),
    ({'test_dataloader.num_workers': -1}, r'num_workers=-1: must be a whole number >= 0'),
    ({'model.postprocess': [dict(type='AreaThreshold', area_thd=10)]},
     r'model.postprocess\[0\].area_thd=10: .*percentage'),
])
def test_values_outside_their_meaning_are_refused(options, message):
    with pytest.raises(ConfigValueError, match=message):
        load_config(VOC20, cfg_options=options)


@pytest.mark.parametrize('options, message', [
    ({'train_cfg.max_epochs': 0}, r'train_cfg.max_epochs=0'),
    ({'train_dataloader.dataset.times': 0}, r'train_dataloader.dataset.times=0'),
    ({'optim_wrapper.optimizer.lr': 0}, r'optim_wrapper.optimizer.lr=0: must be > 0'),
])
def test_training_values_are_refused(options, message):
    from mmengine.config import Config
    cfg = Config.fromfile(TRAIN)
    cfg.merge_from_dict(options)
    with pytest.raises(ConfigValueError, match=message):
        check_config_values(cfg)


def test_every_shipped_config_passes():
    import glob
    for path in sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)):
        if '_base_' not in path:
            load_config(path)


def test_command_line_values_share_the_rules():
    with pytest.raises(ConfigValueError, match='--alpha=80: .*percentage'):
        check_value('--alpha', 80, 'fraction')
    with pytest.raises(ConfigValueError, match='--repeats=0'):
        check_value('--repeats', 0, 'count')


@pytest.mark.parametrize('argv, message', [
    (['--repeats', '0'], '--repeats=0: must be a whole number >= 1'),
    (['--crop', '224', '--stride', '300'], '--stride=300 is larger than --crop=224'),
])
def test_benchmark_refuses_bad_values(run_tool, argv, message):
    proc = run_tool('benchmark', argv)
    assert proc.returncode == 2 and message in proc.stderr


@pytest.mark.parametrize('checkpoint', ['', ' '])
def test_empty_checkpoint_flag_is_an_error(run_tool, tmp_path, checkpoint):
    proc = run_tool('test', [VOC20, '--checkpoint', checkpoint, '--work-dir', str(tmp_path)])
    assert proc.returncode != 0
    assert f"--checkpoint is {checkpoint!r}: an empty weight source" in proc.stderr


def test_empty_pretrained_option_is_an_error(run_tool, tmp_path):
    proc = run_tool('test', [VOC20, '--cfg-options', 'model.backbone.pretrained=',
                             '--work-dir', str(tmp_path)])
    assert proc.returncode != 0
    assert "model.backbone.pretrained is '': an empty weight source" in proc.stderr


def test_typo_in_an_option_stops_test_tool(run_tool, tmp_path):
    proc = run_tool('test', [VOC20, '--cfg-options', 'test_dataloder.dataset.data_root=/x',
                             '--work-dir', str(tmp_path)])
    assert proc.returncode != 0 and "did you mean 'test_dataloader'" in proc.stderr


def test_eval_all_refuses_an_empty_checkpoint_before_any_config(run_tool, tmp_path):
    proc = run_tool('eval_all', [VOC20, '--checkpoint', '', '--out', str(tmp_path / 'r.xlsx'),
                                 '--work-dir', str(tmp_path / 'w')])
    assert proc.returncode != 0 and "--checkpoint is '': an empty weight source" in proc.stderr
    assert '[1/1]' not in proc.stdout


def test_eval_all_refuses_a_folder_as_out(run_tool, tmp_path):
    proc = run_tool('eval_all', [VOC20, '--out', f'{tmp_path}/results/',
                                 '--work-dir', str(tmp_path / 'w')])
    assert proc.returncode != 0 and 'is a folder' in proc.stderr and '[1/1]' not in proc.stdout
