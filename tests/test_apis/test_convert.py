"""apis/convert.py through tools/convert_checkpoint.py."""

import os

import open_clip
import pytest
import torch

from declip_mmseg.testing.checkpoints import eva_clip_state_dict

# -- writers of the real key formats (inverse of the loader's conversion) ------------




def write(obj, path):
    torch.save(obj, path)
    return str(path)


@pytest.fixture(scope='module')
def eva_files(tiny_eva, tmp_path_factory):
    arch, ckpt = tiny_eva
    folder = tmp_path_factory.mktemp('eva_formats')
    sd = torch.load(ckpt, weights_only=True)
    eva = eva_clip_state_dict(sd)
    files = {
        'open_clip': ckpt,
        'eva_clip': write(eva, folder / 'EVA02_CLIP_tiny.pt'),
        'declip': write({'epoch': 6, 'name': 'declip', 'state_dict': eva,
                         'optimizer': {'state': {}, 'param_groups': []}}, folder / 'declip.pt'),
        'densevlm_resumed': write({'epoch': 6, 'state_dict': {f'module.{k}': v for k, v in eva.items()}},
                                  folder / 'densevlm.pt'),
        'visual_only': write(eva_clip_state_dict(sd, text=False), folder / 'visual_only.pt'),
        'visual_only_unprefixed': write(eva_clip_state_dict(sd, visual_prefix='', text=False),
                                        folder / 'visual_only_bare.pt'),
    }
    return arch, files


def test_convert_checkpoint_tool(eva_files, tmp_path, run_tool):
    arch, files = eva_files
    out = str(tmp_path / 'converted.pt')
    proc = run_tool('convert_checkpoint', [files['declip'], out, '--model', arch])
    assert proc.returncode == 0, proc.stderr
    assert 'eva_clip' in proc.stdout
    converted = torch.load(out, weights_only=True)
    native = torch.load(files['open_clip'], weights_only=True)
    assert sorted(converted) == sorted(native)
    model = open_clip.create_model('TinyEVA-Test', pretrained=out)  # open_clip itself loads it
    torch.testing.assert_close(model.visual.trunk.pos_embed, native['visual.trunk.pos_embed'])
    proc = run_tool('convert_checkpoint', [files['visual_only'], out, '--model', arch])
    assert proc.returncode != 0 and '--base' in proc.stderr


def full_disk_save(monkeypatch, module):
    """``torch.save`` in ``module`` writes a few bytes, then fails as torch does on a full disk."""
    def save(obj, f, *args, **kwargs):
        with open(f, 'wb') as out:
            out.write(b'PK\x03\x04partial')
        raise RuntimeError('[enforce fail at inline_container.cc:778] . unexpected pos 64 vs 0')
    monkeypatch.setattr(module.torch, 'save', save)


def test_convert_onto_itself_on_a_full_disk_keeps_the_source(eva_files, tmp_path, run_tool,
                                                                monkeypatch):
    """``convert_checkpoint.py ckpt.pt ckpt.pt`` with no room: the only copy survives."""
    import shutil

    from declip_mmseg.apis import convert
    arch, files = eva_files
    src = str(tmp_path / 'ckpt.pt')
    shutil.copy(files['eva_clip'], src)
    os.chmod(src, 0o640)
    before = open(src, 'rb').read()
    full_disk_save(monkeypatch, convert)
    proc = run_tool('convert_checkpoint', [src, src, '--model', arch])
    assert proc.returncode != 0
    assert f"cannot write '{src}'" in proc.stderr and 'No space left' in proc.stderr
    assert open(src, 'rb').read() == before and os.listdir(tmp_path) == ['ckpt.pt']
    monkeypatch.undo()
    proc = run_tool('convert_checkpoint', [src, src, '--model', arch])  # with room: converted
    assert proc.returncode == 0, proc.stderr
    assert oct(os.stat(src).st_mode & 0o777) == oct(0o640)  # the target keeps its mode
    assert sorted(torch.load(src, weights_only=True)) == sorted(
        torch.load(files['open_clip'], weights_only=True))


@pytest.mark.parametrize('dst, message', [('out/', 'is a folder'), ('converted', 'no extension'),
                                          ('c.safetensors', "extension '.safetensors'")])
def test_convert_checks_the_destination_before_loading(eva_files, tmp_path, run_tool, dst,
                                                       message, monkeypatch):
    from declip_mmseg.apis import convert
    arch, files = eva_files
    monkeypatch.setattr(convert, 'build_clip', lambda *a: pytest.fail('loaded before the check'))
    proc = run_tool('convert_checkpoint', [files['declip'], f'{tmp_path}/{dst}', '--model', arch])
    assert proc.returncode != 0 and message in proc.stderr and 'DST' in proc.stderr
