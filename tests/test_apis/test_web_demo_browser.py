"""The web page in a real browser: Debian's Chromium driven by Playwright (``executable_path``;
``.ci/run`` installs it with apt-get). The page runs in this process on 127.0.0.1 with the tiny
CLIP. Upload, type, click, wait for the overlay; the found names, the downloaded label map
(equal to tools/demo.py --out-labels), a malformed vocabulary's message, no CLIP rebuild for a
second vocabulary, no request leaving 127.0.0.1; the screenshot in README.md is taken here.

Skipped only where Chromium is missing and ``CI`` is not set; under CI it must run.
"""
import os
import os.path as osp
import re
import shutil
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from declip_mmseg.testing.tools import REPO

SCREENSHOT = osp.join(REPO, 'docs', 'images', 'web_demo.png')
CHROMIUM = ('/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser')
MALFORMED = 'cat;;dog'


def chromium_path():
    found = next((p for p in CHROMIUM if os.access(p, os.X_OK)), None) or shutil.which('chromium')
    if found:
        return found
    if os.environ.get('CI', '').lower() not in ('', '0', 'false', 'no'):
        pytest.fail('CI is set but Chromium is missing: .ci/run installs it with '
                    '`apt-get install -y chromium`')
    pytest.skip('no Chromium here (Debian: apt-get install -y chromium); CI runs this test')


def street(path, size=(240, 320)):
    """Sky, trees and a road with a car: something to look at in the README's screenshot."""
    h, w = size
    y, x = np.mgrid[:h, :w]
    img = np.zeros((h, w, 3), np.float64)
    img[:] = (110, 160, 230)
    img[y > h * 0.35] = (50, 130, 45)
    img[y > h * 0.6] = (95, 95, 100)
    img[(y > h * 0.62) & (y < h * 0.8) & (x > w * 0.35) & (x < w * 0.6)] = (200, 30, 30)
    img += np.random.default_rng(0).normal(0, 8, img.shape)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return str(path)


@pytest.mark.slow
def test_page_in_a_real_browser(tiny_clip, tmp_path, run_tool, monkeypatch):
    executable = chromium_path()
    from playwright.sync_api import expect, sync_playwright

    import declip_mmseg.models.builder as builder
    from declip_mmseg.apis.demo_methods import demo_methods
    from declip_mmseg.apis.web_demo import build_page, launch, offline_environment
    from declip_mmseg.apis.web_session import WebSession
    from declip_mmseg.fileio import safe_write
    clip_builds = []
    original = builder.build_clip
    monkeypatch.setattr(builder, 'build_clip',
                        lambda *a, **k: clip_builds.append(1) or original(*a, **k))

    arch, ckpt = tiny_clip
    image = street(tmp_path / 'street.png')
    vocab = 'sky; tree, bush; road; car'
    cli_labels = tmp_path / 'cli_labels.png'
    proc = run_tool('demo', [image, '--classes', vocab, '--model', arch, '--checkpoint', ckpt,
                             '--out', str(tmp_path / 'cli.png'), '--out-labels', str(cli_labels)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = proc.stdout.rsplit('classes found: ', 1)[1].strip().split(', ')
    cli_error = run_tool('demo', [image, '--classes', MALFORMED, '--model', arch,
                                  '--checkpoint', ckpt]).stderr.strip().splitlines()[-1]
    assert cli_error.startswith('error: ')

    clip_builds.clear()  # the page's builds from here on
    offline_environment()
    session = WebSession(demo_methods(checkpoint=ckpt, model_name=arch),
                         out_dir=str(tmp_path / 'web'))
    page_app = build_page(session)
    url = launch(page_app, port=None, allowed_paths=[session.out_dir], block=False)
    requests = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable)
            try:
                page = browser.new_page(viewport={'width': 1280, 'height': 900},
                                        accept_downloads=True)
                page.on('request', lambda request: requests.append(request.url))
                page.goto(url)
                page.locator('#image input[type=file]').set_input_files(image)
                page.locator('#classes textarea').fill(vocab)
                page.locator('#segment').click()
                status = page.locator('#status textarea')
                expect(status).to_have_value(re.compile(r'windows \d+/\d+'), timeout=120_000)
                assert 'model built' in status.input_value()
                overlay = page.locator('#overlay img')
                expect(overlay).to_be_visible()
                drawn = page.request.get(overlay.get_attribute('src')).body()
                assert drawn[:8] == b'\x89PNG\r\n\x1a\n'  # PNG, not WebP
                assert drawn == (tmp_path / 'cli.png').read_bytes()  # the CLI's overlay + legend
                assert f"found {', '.join(found)} (of 4 classes)" in status.input_value()
                areas = page.locator('#areas')
                for name in ('sky', 'tree', 'road', 'car'):
                    expect(areas).to_contain_text(name)
                with page.expect_download() as download:
                    page.locator('#labels').click()
                saved = tmp_path / 'page_labels.png'
                download.value.save_as(saved)
                assert saved.read_bytes() == cli_labels.read_bytes()
                with safe_write(SCREENSHOT) as tmp:
                    page.screenshot(path=tmp, full_page=True)

                page.locator('#classes textarea').fill(MALFORMED)
                page.locator('#segment').click()
                expect(page.get_by_text(cli_error[len('error: '):]).first).to_be_visible(
                    timeout=60_000)

                page.locator('#classes textarea').fill('car; person; building')
                page.locator('#segment').click()
                expect(status).to_have_value(re.compile('model kept.*new vocabulary'),
                                             timeout=120_000)
                expect(areas).to_contain_text('building')
            finally:
                browser.close()
    finally:
        page_app.close()
    assert len(clip_builds) == 1 and session.builds == 1
    outside = {u for u in requests if urlparse(u).scheme in ('http', 'https', 'ws', 'wss')
               and urlparse(u).hostname != '127.0.0.1'}
    assert requests and not outside, outside
    assert Image.open(SCREENSHOT).size[0] == 1280
