"""apis/convert.py through tools/convert_checkpoint.py."""

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
