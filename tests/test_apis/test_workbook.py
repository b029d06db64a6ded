"""apis/workbook.py: concurrent appends, unwritable files, a workbook broken mid-run."""
import multiprocessing
import os
import os.path as osp

import pytest

from declip_mmseg.testing.synthetic_data import make_voc
from declip_mmseg.testing.tools import REPO


# -- eval_all's workbook ------------------------------------------------------------------------
def _append_many(path, worker, count):
    from declip_mmseg.apis.eval_all import append_results
    for i in range(count):
        append_results(path, [dict(config=f'w{worker}_{i}', mIoU=float(i))],
                       [dict(config=f'w{worker}_{i}', IoU=1.0)])


def test_concurrent_appends_lose_nothing(tmp_path):
    from openpyxl import load_workbook
    path = str(tmp_path / 'results.xlsx')
    ctx = multiprocessing.get_context('fork')  # the parent has imported everything already
    procs = [ctx.Process(target=_append_many, args=(path, w, 6)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert all(p.exitcode == 0 for p in procs)
    rows = list(load_workbook(path)['results'].values)
    assert len(rows) == 1 + 24
    assert sorted(r[1] for r in rows[1:]) == sorted(f'w{w}_{i}' for w in range(4) for i in range(6))
    assert [f for f in os.listdir(tmp_path) if 'tmp' in f] == []


def test_unreadable_or_unwritable_out_is_refused_before_any_work(tmp_path):
    from declip_mmseg.apis.eval_all import WorkbookError, append_results, evaluate_all
    broken = tmp_path / 'results.xlsx'
    broken.write_bytes(b'PK\x03\x04 not really a workbook')
    logged = []
    with pytest.raises(WorkbookError, match='results.xlsx.*not a readable .xlsx.*left untouched'):
        evaluate_all(['configs/cfg_voc20.py'], out=str(broken), log=logged.append)
    assert logged == []  # nothing was evaluated
    with pytest.raises(WorkbookError):
        append_results(str(broken), [dict(config='x')], [])
    assert broken.read_bytes() == b'PK\x03\x04 not really a workbook'  # never overwritten
    blocker = tmp_path / 'file'
    blocker.write_text('')
    for out in (str(blocker / 'results.xlsx'), str(tmp_path), str(tmp_path / 'results.csv')):
        with pytest.raises(WorkbookError, match='--out'):
            evaluate_all(['configs/cfg_voc20.py'], out=out, log=logged.append)
    assert logged == []


def test_finished_results_survive_a_workbook_broken_mid_run(tiny_clip, tmp_path):
    from openpyxl import load_workbook

    from declip_mmseg.apis.eval_all import WorkbookError, evaluate_all
    arch, ckpt = tiny_clip
    root = make_voc(str(tmp_path / 'voc'), n=1)
    out = tmp_path / 'results.xlsx'

    def log(line):  # another program breaks the workbook while the config is evaluated
        if line.endswith('cfg_voc20'):
            out.write_bytes(b'broken')

    work = tmp_path / 'work'
    with pytest.raises(WorkbookError) as err:
        evaluate_all([osp.join(REPO, 'configs/cfg_voc20.py')], out=str(out), work_dir=str(work),
                     cfg_options={'model.backbone.model_name': arch,
                                  'model.backbone.pretrained': ckpt,
                                  'test_dataloader.dataset.data_root': root,
                                  'test_dataloader.num_workers': 0}, log=log)
    kept = [f for f in os.listdir(work) if f.endswith('.xlsx')]
    assert len(kept) == 1 and str(work / kept[0]) in str(err.value)
    rows = list(load_workbook(work / kept[0])['results'].values)
    assert rows[1][1] == 'cfg_voc20.py' and 0 <= rows[1][rows[0].index('mIoU')] <= 100
    assert out.read_bytes() == b'broken'


def test_appending_keeps_a_shared_workbook_mode_and_survives_a_full_disk(tmp_path, monkeypatch):
    """A group-shared workbook stays group-shared (a temporary file is owner-only), and a full
    disk while saving leaves the earlier results as they were."""
    import errno
    import os
    import stat

    import openpyxl

    from declip_mmseg.apis.workbook import append_results
    from declip_mmseg.fileio import OutputWriteError
    book = tmp_path / 'results.xlsx'
    append_results(str(book), rows=[{'config': 'a', 'mIoU': 1.0}], class_rows=[])
    os.chmod(book, 0o664)
    append_results(str(book), rows=[{'config': 'b', 'mIoU': 2.0}], class_rows=[])
    assert stat.S_IMODE(book.stat().st_mode) == 0o664
    before = book.read_bytes()

    def full_disk(self, filename):
        open(filename, 'wb').write(b'PK partial')
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(openpyxl.Workbook, 'save', full_disk)
    with pytest.raises(OutputWriteError, match='results.xlsx.*No space left'):
        append_results(str(book), rows=[{'config': 'c', 'mIoU': 3.0}], class_rows=[])
    assert book.read_bytes() == before
    assert [f for f in os.listdir(tmp_path) if not f.endswith('.lock')] == ['results.xlsx']
