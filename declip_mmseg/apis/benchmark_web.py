"""The web page's time per click (``tools/benchmark.py --web``): a real-size CLIP with random
weights saved as a checkpoint file, one method of the page, one image; the first click builds
the model and encodes its vocabulary, the second encodes a new vocabulary only, the third
repeats it (no text at all). Each click is :meth:`WebSession.segment`, what the page's button
runs, outputs written included (the browser's upload and display are not counted)."""
import os
import os.path as osp
import tempfile
import time
from typing import List

import numpy as np
import open_clip
import torch
from PIL import Image

from ..clip import resolve_model_name
from .demo_methods import demo_methods
from .web_session import WebSession

VOCABULARIES = ('background; person; car; road; building; tree; sky; grass',
                'cat; dog, puppy; sofa; floor; wall; window; table; lamp; plant; rug')


def benchmark_web_clicks(model_name: str = 'ViT-B-16', method: str = 'ClearCLIP',
                         height: int = 480, width: int = 640, device: str = 'cpu') -> List[dict]:
    """Seconds of three clicks (first vocabulary, second vocabulary, the second again)."""
    folder = tempfile.mkdtemp(prefix='declip_web_bench_')
    torch.manual_seed(0)
    weights = osp.join(folder, 'random_clip.pt')
    torch.save(open_clip.create_model(resolve_model_name(model_name)).state_dict(), weights)
    image = osp.join(folder, 'image.png')
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((height, width, 3)) * 255).astype(np.uint8)).save(image)
    old_cache = os.environ.get('DECLIP_CACHE_DIR')
    os.environ['DECLIP_CACHE_DIR'] = osp.join(folder, 'text_cache')  # nothing cached yet
    try:
        methods = demo_methods(checkpoint=weights, model_name=model_name)
        session = WebSession({method: methods[method]}, device=device,
                             out_dir=osp.join(folder, 'out'))
        rows = []
        for click, vocabulary in enumerate(
                (VOCABULARIES[0], VOCABULARIES[1], VOCABULARIES[1]), start=1):
            start = time.perf_counter()
            out = session.segment(image, vocabulary, method)
            rows.append(dict(click=click, method=method, model=model_name,
                             image=f'{width}x{height}', classes=len(out.table),
                             model_built=out.built, new_vocabulary=out.new_vocabulary,
                             seconds=round(time.perf_counter() - start, 2),
                             status=out.status.split('; ', 1)[1]))
        return rows
    finally:
        if old_cache is None:
            os.environ.pop('DECLIP_CACHE_DIR', None)
        else:
            os.environ['DECLIP_CACHE_DIR'] = old_cache
