"""apis/console.py: a console that cannot encode non-ASCII text does not crash the last print."""
import io
import sys

from declip_mmseg.testing.tools import load_tool


def test_last_print_survives_an_ascii_console(tiny_clip, tmp_path, monkeypatch):
    arch, ckpt = tiny_clip
    out = tmp_path / 'r\u00e9sum\u00e9.pt'
    console = io.TextIOWrapper(io.BytesIO(), encoding='ascii')  # PYTHONIOENCODING=ascii
    monkeypatch.setattr(sys, 'stdout', console)
    load_tool('convert_checkpoint').main([ckpt, str(out), '--model', arch])
    console.flush()
    assert out.is_file()
    assert b'r\\xe9sum\\xe9.pt (open_clip format)' in console.buffer.getvalue()
