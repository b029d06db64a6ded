"""apis/web_session.py and apis/web_demo.py without a browser: the method list, missing weights,
models kept between clicks, vocabularies encoded once, the same label map as tools/demo.py,
bad input with the CLI's message, and the ``segment`` API through gradio_client."""
import glob
import os.path as osp
import re

import numpy as np
import pytest
from PIL import Image

from declip_mmseg.testing.tools import REPO
from declip_mmseg.visualization import read_label_map

VOCAB = 'sky; tree, bush; road'  # not used by other tests: its first encoding happens here


def photo(path, size=(48, 64)):
    """Sky above grass above road: three bands, so several classes show up."""
    h, w = size
    rng = np.random.default_rng(0)
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 3] = (120, 170, 240)
    img[h // 3: 2 * h // 3] = (60, 150, 50)
    img[2 * h // 3:] = (90, 90, 95)
    img = np.clip(img + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path)
    return str(path)


@pytest.fixture(scope='module')
def methods(tiny_clip):
    from declip_mmseg.apis.demo_methods import demo_methods
    arch, ckpt = tiny_clip
    return demo_methods(checkpoint=ckpt, model_name=arch)


@pytest.fixture
def session(methods, tmp_path):
    from declip_mmseg.apis.web_session import WebSession
    return WebSession(methods, out_dir=str(tmp_path / 'web'))


@pytest.fixture
def counters(monkeypatch):
    """Counts CLIP builds (the model builder's), text-tower runs and text-cache look-ups."""
    import declip_mmseg.models.builder as builder
    import declip_mmseg.text.embeddings as embeddings
    counts = dict(clip=0, encode=0, cache=0)

    def counting(module, name, key):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            counts[key] += 1
            return original(*args, **kwargs)
        monkeypatch.setattr(module, name, wrapper)
    counting(builder, 'build_clip', 'clip')
    counting(embeddings, 'encode_prompts', 'encode')
    counting(embeddings.TextEncoder, '_cached', 'cache')
    return counts


def test_every_method_folder_has_a_demo_config(methods):
    names = list(methods)
    assert names[0] == 'ClearCLIP'
    for name in ('SCLIP', 'NACLIP + PAMR', 'ProxyCLIP', 'MaskCLIP', 'DeCLIP', 'DenseVLM',
                 'DeCLIP + proxy', 'CAT-Seg (DeCLIP EVA02-B/16)'):
        assert name in names
    folders = {osp.dirname(p) for pattern in ('cfg_*.py', 'catseg_*.py')
               for p in glob.glob(osp.join(REPO, 'configs', '*', pattern))}
    without = [f for f in folders if not osp.isfile(osp.join(f, 'demo.py'))]
    assert not without, f'method folders without a demo.py for the web page: {without}'
    # the weight options reach the methods on the start config's CLIP, not the EVA02 ones
    assert methods['SCLIP'].config.model.backbone.model_name.endswith('.json')
    assert methods['DeCLIP'].config.model.backbone.model_name == 'EVA02-B-16'


def test_missing_weights_named_with_where_to_put_them(session, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # checkpoints/ is relative to the working directory
    message = session.method('DeCLIP').missing_weights()
    assert 'evab_dinov2B_csa_560_0.25_seg.pt' in message
    assert str(tmp_path / 'checkpoints' / 'evab_dinov2B_csa_560_0.25_seg.pt') in message
    assert 'dino_vitbase8_pretrain.pth' in session.method('ProxyCLIP').missing_weights()
    assert session.method('SCLIP').missing_weights() is None
    # CAT-Seg: the released checkpoint (model.checkpoint) is the only file it needs
    catseg = session.method('CAT-Seg (DeCLIP EVA02-B/16)').missing_weights()
    assert str(tmp_path / 'checkpoints' / 'CATSeg_DeCLIP_EVA-B_DINOv2-B_csa_0.05_2.0.pth') in catseg
    with pytest.raises(FileNotFoundError, match='evab_dinov2B_csa_560_0.25_seg.pt'):
        session.segment(photo(tmp_path / 'p.png'), 'cat; dog', 'DeCLIP')
    assert session.builds == 0


@pytest.mark.slow
def test_clicks_keep_the_model_and_encode_each_vocabulary_once(session, counters, tmp_path,
                                                               tiny_clip, run_tool):
    image = photo(tmp_path / 'photo.png')
    first = session.segment(image, VOCAB, 'ClearCLIP')
    assert first.built and first.new_vocabulary
    assert counters == dict(clip=1, encode=1, cache=1)
    assert 'windows 2/2' in first.status and 'ClearCLIP: found' in first.status
    assert {row[1] for row in first.table} == {'sky', 'tree', 'road'}
    assert abs(sum(row[2] for row in first.table) - 100) < 0.1
    assert first.heat_maps and all(osp.isfile(path) for path, _ in first.heat_maps)

    again = session.segment(image, VOCAB, 'ClearCLIP')  # same vocabulary: no text at all
    assert not again.built and not again.new_vocabulary
    assert counters == dict(clip=1, encode=1, cache=1)
    with open(first.labels, 'rb') as a, open(again.labels, 'rb') as b:
        assert a.read() == b.read()

    other = session.segment(image, 'car; person', 'ClearCLIP')  # new names only
    assert not other.built and other.new_vocabulary
    assert counters == dict(clip=1, encode=2, cache=2) and session.builds == 1

    # the CLI writes the same label map, byte for byte
    arch, ckpt = tiny_clip
    cli = tmp_path / 'cli_labels.png'
    proc = run_tool('demo', [image, '--classes', VOCAB, '--model', arch, '--checkpoint', ckpt,
                             '--out', str(tmp_path / 'cli.png'), '--out-labels', str(cli)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(first.labels, 'rb') as a:
        assert a.read() == cli.read_bytes()
    labels, names = read_label_map(str(cli))
    assert names == ['sky', 'tree', 'road'] and labels.shape == (48, 64)
    assert Image.open(cli).mode == 'P'


@pytest.mark.slow
def test_advanced_settings_apply_and_restore(session, tmp_path):
    image = photo(tmp_path / 'photo.png', size=(24, 32))  # 448 x 597 for the network
    out = session.segment(image, 'sky; road', 'ClearCLIP', window=448, stride=112, pamr=True,
                          prob_thd=0.99, logit_scale=10)
    inferencer = session.models[next(iter(session.models))]
    model = inferencer.model
    assert [type(s).__name__ for s in model.postprocess] == ['PAMR']
    assert model.slide_stride == 112 and model.prob_thd == 0.99 and model.logit_scale == 10
    assert 'windows 3/3' in out.status  # 2 at the default stride 224
    labels, _ = read_label_map(out.labels)
    assert (labels == 0).mean() > 0.9  # prob_thd 0.99 at logit scale 10: mostly class 0
    inferencer.configure()  # empty settings: the config's again
    assert len(model.postprocess) == 0 and model.slide_stride == 224 and model.prob_thd == 0.0
    assert model.logit_scale == 50.0 and inferencer.defaults()['pamr'] is False
    with pytest.raises(ValueError, match='stride'):
        session.segment(image, 'sky; road', 'ClearCLIP', window=100, stride=200)
    with pytest.raises(ValueError, match='prob_thd'):
        session.segment(image, 'sky; road', 'ClearCLIP', prob_thd=2)


@pytest.mark.parametrize('classes, image_bytes', [
    ('cat;;dog', None),           # malformed vocabulary
    ('', None),                   # empty vocabulary
    ('cat; dog', b'not an image'),  # unreadable image
])
def test_bad_input_gives_the_cli_message(session, tmp_path, tiny_clip, run_tool, classes,
                                         image_bytes):
    image = photo(tmp_path / 'photo.png')
    if image_bytes is not None:
        image = str(tmp_path / 'broken.png')
        with open(image, 'wb') as f:
            f.write(image_bytes)
    with pytest.raises(Exception) as caught:
        session.segment(image, classes, 'ClearCLIP')
    arch, ckpt = tiny_clip
    proc = run_tool('demo', [image, '--classes', classes, '--model', arch, '--checkpoint', ckpt,
                             '--out', str(tmp_path / 'o.png')])
    assert proc.returncode != 0
    def same(text):  # Pillow's message names a BytesIO object by its address
        return re.sub(r'0x[0-9a-f]+', '0x', text)
    assert same(f'error: {caught.value}') in same(proc.stderr), proc.stderr[-2000:]


def test_page_never_reads_server_files(session, tmp_path):
    names = tmp_path / 'names.txt'
    names.write_text('secret\n')
    with pytest.raises(FileNotFoundError, match='not files'):
        session.segment(photo(tmp_path / 'p.png'), str(names), 'ClearCLIP')


@pytest.mark.slow
def test_segment_api_through_gradio_client(session, tmp_path, tiny_clip, run_tool, monkeypatch):
    """The ``segment`` endpoint with only ``image`` and ``classes``: overlay, label map (the
    CLI's bytes) and area table."""
    from declip_mmseg.apis.web_demo import build_page, launch, offline_environment
    offline_environment()
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')  # the client's own hub look-ups
    from gradio_client import Client, handle_file
    image = photo(tmp_path / 'photo.png')
    page = build_page(session)
    url = launch(page, port=None, allowed_paths=[session.out_dir], block=False)
    try:
        client = Client(url, verbose=False, download_files=str(tmp_path / 'downloads'))
        params = client.view_api(return_format='dict', print_info=False)['named_endpoints'][
            '/segment']['parameters']
        assert [p['parameter_name'] for p in params][:2] == ['image', 'classes']
        assert all(p['parameter_has_default'] for p in params[2:])
        overlay, labels, table = client.predict(image=handle_file(image),
                                                classes='sky; grass; road', api_name='/segment')
    finally:
        page.close()
    assert Image.open(overlay).format == 'PNG'
    assert {row[1] for row in table['data']} == {'sky', 'grass', 'road'}
    arch, ckpt = tiny_clip
    cli = tmp_path / 'cli_labels.png'
    proc = run_tool('demo', [image, '--classes', 'sky; grass; road', '--model', arch, '--checkpoint', ckpt,
                             '--out', str(tmp_path / 'cli.png'), '--out-labels', str(cli)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(labels, 'rb') as f:
        assert f.read() == cli.read_bytes()
