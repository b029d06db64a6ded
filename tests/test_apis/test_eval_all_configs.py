"""apis/eval_all.py: configs read before any run, the method of a user's config, row keys of
configs with the same file name, waiting on another run's workbook lock."""
import os
import os.path as osp

import pytest

from declip_mmseg.testing.tools import REPO


def test_a_typo_in_one_config_stops_the_run_before_any_evaluation(tmp_path, run_tool):
    proc = run_tool('eval_all', ['configs/cfg_voc20.py', 'configs/cfg_ade2k.py', '--out',
                                 str(tmp_path / 'results.xlsx'), '--work-dir', str(tmp_path / 'w')])
    assert proc.returncode != 0 and '[1/2]' not in proc.stdout
    last = proc.stderr.strip().splitlines()
    assert last[0].startswith('error: 1 of 2 configs cannot be read, nothing was evaluated')
    assert "'configs/cfg_ade2k.py': FileNotFoundError" in proc.stderr


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_method_of_a_users_config_follows_its_bases(tmp_path):
    from declip_mmseg.apis.eval_all import config_method, method_name
    sclip = write(tmp_path / 'mine/sclip_voc.py',
                  f"_base_ = ['{REPO}/configs/sclip/cfg_voc21.py']\nmodel = dict(slide_stride=56)\n")
    assert config_method(sclip) == 'sclip'
    twice = write(tmp_path / 'mine/twice.py', "_base_ = './sclip_voc.py'\n")
    assert method_name(twice, {}) == 'sclip'
    assert method_name(twice, {'proxy': {'vfm': 'dino-B-8'}}) == 'sclip+proxy'
    naclip = write(tmp_path / 'mine/naclip_base.py',
                   f"_base_ = ['{REPO}/configs/_base_/models/naclip_vit_b16.py']\n")
    assert config_method(naclip) == 'naclip'
    assert config_method(write(tmp_path / 'mine/plain.py', 'model = dict()\n')) == 'custom'
    assert config_method(osp.join(REPO, 'configs/cfg_ade20k.py')) == 'clearclip'
    assert config_method(osp.join(REPO, 'configs/declip_distill_coco.py')) == 'declip'


def test_configs_with_the_same_file_name_get_their_own_rows_and_work_dirs(tmp_path, monkeypatch):
    from declip_mmseg.apis.eval_all import config_name, load_all
    monkeypatch.chdir(tmp_path)
    base = f"_base_ = ['{REPO}/configs/cfg_voc20.py']\n"
    a, b = write(tmp_path / 'a/cfg_voc20.py', base), write(tmp_path / 'b/cfg_voc20.py', base)
    assert (config_name(a), config_name(b)) == ('a/cfg_voc20.py', 'b/cfg_voc20.py')
    assert config_name(osp.join(REPO, 'configs/sclip/cfg_voc20.py')) == 'sclip/cfg_voc20.py'
    loaded = load_all([a, b, osp.join(REPO, 'configs/cfg_voc20.py')], 'w')
    assert [cfg.work_dir for _, cfg in loaded] == [osp.join('w', 'a/cfg_voc20'),
                                                   osp.join('w', 'b/cfg_voc20'),
                                                   osp.join('w', 'cfg_voc20')]


def test_waiting_on_another_runs_lock_says_who_holds_it(tmp_path):
    from declip_mmseg.apis.workbook import WorkbookError, append_results, workbook_lock
    out = str(tmp_path / 'results.xlsx')
    said = []
    with workbook_lock(out):  # another run appending
        with pytest.raises(WorkbookError) as err:
            append_results(out, [], [], timeout=0.2, log=said.append)
    assert len(said) == 1 and said[0].startswith(f"waiting for the lock file '{out}.lock'")
    assert f'process {os.getpid()} on ' in said[0] and 'waiting up to 0 s' in said[0]
    assert f'process {os.getpid()}' in str(err.value) and f"'{out}.lock'" in str(err.value)
    append_results(out, [], [], log=said.append)  # free again: no message
    assert len(said) == 1 and not osp.exists(out + '.lock.owner')
