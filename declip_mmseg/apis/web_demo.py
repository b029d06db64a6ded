"""The web page of tools/web_demo.py: your own image and class names, every method of the
project behind one form (Gradio, pinned in requirements.txt).

    python tools/web_demo.py                       # http://127.0.0.1:7860
    python tools/web_demo.py --checkpoint checkpoints/ViT-B-16.pt --port 8080

The page calls :class:`~.web_session.WebSession` (models built once per method and weights,
kept between clicks). Nothing leaves the machine: Gradio's analytics and version check and
huggingface_hub's telemetry are off, the page's fonts and scripts ship inside the gradio
package, and no share link is ever made. The segmentation event is also an API,
``api_name='segment'`` (parameters ``image`` (a file), ``classes`` and the optional settings;
returns the overlay file, the label-map file and the area table)::

    from gradio_client import Client, handle_file
    overlay, labels, table = Client('http://127.0.0.1:7860/').predict(
        image=handle_file('photo.jpg'), classes='cat; dog; grass', api_name='/segment')
"""
import argparse
import html
import logging
import os
from typing import List, Optional

import torch
from mmengine.config import DictAction

from ..models.utils.cpu_amp import cpu_amp_is_fast
from .demo_methods import CONFIG_ROOT, demo_methods
from .inference import USER_ERRORS
from .web_session import WebSession

# before gradio and huggingface_hub are imported: no analytics, version check or telemetry;
# the page's own requests to 127.0.0.1 never go through a proxy
OFFLINE_ENV = {'GRADIO_ANALYTICS_ENABLED': 'False', 'HF_HUB_DISABLE_TELEMETRY': '1'}
LOCAL_HOSTS = ('localhost', '127.0.0.1', '::1')

PAMR_CHOICES = ('method default', 'on', 'off')
CLASSES_HELP = ("';' between classes, ',' between synonyms (as tools/demo.py --classes), "
                'e.g. "cat; dog, puppy; grass"; or one class per line')


def offline_environment() -> None:
    """Turn off every outbound request of Gradio and huggingface_hub's telemetry, and keep the
    page's local requests away from a proxy (Gradio checks its own URL through ``http_proxy``)."""
    os.environ.update(OFFLINE_ENV)
    from huggingface_hub import constants
    constants.HF_HUB_DISABLE_TELEMETRY = True  # read when huggingface_hub was imported
    for key in ('no_proxy', 'NO_PROXY'):
        hosts = [h for h in os.environ.get(key, '').split(',') if h]
        os.environ[key] = ','.join(hosts + [h for h in LOCAL_HOSTS if h not in hosts])


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Web page: segment your own images with your own class names.')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to serve on (default 127.0.0.1: this machine only)')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--config', default=os.path.join(CONFIG_ROOT, 'demo.py'),
                        help='the method selected at start (a demo.py config); the weight '
                             'options apply to it and to the methods on the same CLIP')
    parser.add_argument('--checkpoint', help='CLIP weights (open_clip tag or file)')
    parser.add_argument('--model', help="CLIP architecture of the weights, e.g. 'ViT-L-14'")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--max-file-size', default='20mb',
                        help="largest upload, e.g. '20mb', '1gb' (default 20mb)")
    parser.add_argument('--queue-size', type=int, default=16,
                        help='clicks waiting at most; one runs at a time')
    parser.add_argument('--keep-models', type=int, default=2,
                        help='built models kept in memory (one per method and weights)')
    parser.add_argument('--out-dir', help='where the outputs of each click are written '
                                          '(default: a new folder in the system temp dir)')
    return parser.parse_args(argv)


def build_page(session, default_method: Optional[str] = None):
    """The ``gr.Blocks`` page over a :class:`~.web_session.WebSession`."""
    import gradio as gr  # after offline_environment(): Gradio reads it on import

    names = list(session.methods)
    default_method = default_method or names[0]
    bf16_fast, bf16_why = cpu_amp_is_fast(torch.bfloat16)
    on_cpu = str(session.device).startswith('cpu')

    def describe(name: str) -> str:
        method = session.method(name)
        missing = method.missing_weights()
        return f'**Weights missing.** {missing}' if missing else method.describe()

    def segment(image, classes, method=default_method, prob_thd=None, logit_scale=None,
                window=None, stride=None, pamr='method default', cpu_bf16=False, opacity=0.5,
                progress=gr.Progress()):
        """Segment ``image`` (a file) with ``classes``; returns (overlay PNG, label-map PNG,
        area table)."""
        if pamr not in PAMR_CHOICES:
            raise gr.Error(f'pamr must be one of {PAMR_CHOICES}, got {pamr!r}')
        if cpu_bf16 and on_cpu and not bf16_fast:
            raise gr.Error(f'CPU bf16 is off on this machine: {bf16_why}')
        try:
            out = session.segment(
                image, classes, method, prob_thd=prob_thd, logit_scale=logit_scale,
                window=window, stride=stride, pamr=None if pamr == 'method default' else
                pamr == 'on', cpu_bf16=bool(cpu_bf16) if on_cpu else None, opacity=opacity,
                progress=lambda done, total: progress((done, total), desc='windows'))
        except USER_ERRORS as err:  # the message tools/demo.py prints, on the page (the toast
            # renders HTML: '<classes string>' would vanish unescaped)
            raise gr.Error(html.escape(str(err)), print_exception=False) from err
        except Exception as err:  # noqa: BLE001 - any other failure stays on the page
            logging.getLogger(__name__).exception('segmentation failed')
            raise gr.Error(html.escape(f'{type(err).__name__}: {err}')) from err
        return out.overlay, out.labels, out.table, out

    with gr.Blocks(title='declip-mmseg: open-vocabulary segmentation',
                   analytics_enabled=False) as page:
        gr.Markdown('## declip-mmseg: segment your image with your own class names')
        with gr.Row():
            with gr.Column(scale=1):
                image = gr.Image(label='image', type='filepath', image_mode=None,
                                 sources=['upload', 'clipboard'], elem_id='image')
                classes = gr.Textbox(label='class names', info=CLASSES_HELP, lines=2,
                                     placeholder='cat; dog, puppy; grass', elem_id='classes')
                method = gr.Dropdown(names, value=default_method, label='method',
                                     elem_id='method')
                method_info = gr.Markdown(describe(default_method), elem_id='method-info')
                with gr.Accordion('advanced', open=False):
                    prob_thd = gr.Number(label='background threshold prob_thd', minimum=0,
                                         maximum=1, info="empty: the method's (class 0 where "
                                                         'the best probability is lower)')
                    logit_scale = gr.Number(label='logit scale', minimum=0,
                                            info="empty: the method's")
                    with gr.Row():
                        window = gr.Number(label='window (px)', precision=0, minimum=1,
                                           info="empty: the method's")
                        stride = gr.Number(label='stride (px)', precision=0, minimum=1,
                                           info="empty: the method's")
                    pamr = gr.Radio(list(PAMR_CHOICES), value='method default', label='PAMR')
                    cpu_bf16 = gr.Checkbox(
                        value=False, label='CPU bf16 autocast', interactive=on_cpu and bf16_fast,
                        info=('about 4x faster here, at bf16 rounding' if bf16_fast else
                              f'not offered on this CPU: {bf16_why}') if on_cpu else
                        'runs on the GPU: the method config sets its precision')
                    opacity = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label='overlay opacity')
                button = gr.Button('Segment', variant='primary', elem_id='segment')
            with gr.Column(scale=2):
                status = gr.Textbox(label='status', interactive=False, elem_id='status')
                overlay = gr.Image(label='overlay with legend', type='filepath', format='png',
                                   interactive=False, elem_id='overlay')
                labels = gr.DownloadButton('label map (indexed PNG, class list inside)',
                                           elem_id='labels')
                table = gr.Dataframe(headers=['index', 'class', '% of pixels'],
                                     label='area (every class; index = value in the label map)',
                                     interactive=False, elem_id='areas')
                heat = gr.Gallery(label='class probability (network resolution)', columns=4,
                                  height='auto', format='png', elem_id='heat')
        state = gr.State()
        method.change(describe, method, method_info, api_visibility='private')
        button.click(
            segment, [image, classes, method, prob_thd, logit_scale, window, stride, pamr,
                      cpu_bf16, opacity], [overlay, labels, table, state], api_name='segment',
        ).success(lambda out: (out.heat_maps, out.status), state, [heat, status],
                  api_visibility='private')
    return page


def launch(page, host: str = '127.0.0.1', port: Optional[int] = 7860,
           max_file_size: str = '20mb', queue_size: int = 16, allowed_paths=(),
           block: bool = True):
    """Queue the page's clicks (one at a time) and serve it; never a share link. Returns the
    local URL (``block=False``: the server runs in a thread; ``page.close()`` stops it)."""
    page.queue(default_concurrency_limit=1, max_size=queue_size)
    _, url, _ = page.launch(server_name=host, server_port=port, share=False,
                            max_file_size=max_file_size, allowed_paths=list(allowed_paths),
                            ssr_mode=False, show_error=True, prevent_thread_lock=not block,
                            quiet=not block, footer_links=[])
    return url


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    offline_environment()
    methods = demo_methods(args.config, checkpoint=args.checkpoint, model_name=args.model,
                           cfg_options=args.cfg_options)
    session = WebSession(methods, device=args.device, out_dir=args.out_dir,
                         keep_models=args.keep_models)
    page = build_page(session)
    print(f'serving on http://{args.host}:{args.port} (Ctrl-C stops); outputs in '
          f'{session.out_dir}', flush=True)
    launch(page, args.host, args.port, args.max_file_size, args.queue_size,
           allowed_paths=[session.out_dir])
