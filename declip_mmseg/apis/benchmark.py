"""Speed and memory of slide inference (the logic behind tools/benchmark.py).

Three ways to run the same windows through the same model:

* ``reference``: the original ClearCLIP loop, one window per backbone call,
  each window's logits padded to the full image and added;
* ``one-window``: this package, ``window_batch_size=1``;
* ``batched``: this package, all windows of the image in one backbone call;
* ``batched-bf16``: the same under bf16 autocast (CPU: ``cpu_amp_dtype``;
  CUDA: ``amp_dtype='bfloat16'``); not bit-identical, reported with its
  largest logit difference and the share of pixels whose label changes.

Every mode runs in a fresh subprocess so that peak memory is its own.

``benchmark_cpu`` compares, interleaved in one process on one image, ClearCLIP's one-window
loop (``reference_predict``: ``forward_slide`` + ``postprocess_result``, eager fp32), the
project's eager fp32 ``predict``, its CPU fast path (oneDNN linears with packed weights, fused
attention; :mod:`declip_mmseg.models.utils.cpu_fast`) and bf16 where the CPU has it natively,
per protocol (window / stride) and number of classes, with GFLOP/s, the share of this
machine's measured GEMM peak, minor page faults per image and parity with fp32 eager
(``tools/benchmark.py --cpu``).

``benchmark_methods`` times whole predictions (windows, post-processing,
softmax, labels) of the training-free methods under their own protocols next
to ClearCLIP's, on the same image (``tools/benchmark.py --method naclip``).
"""
import contextlib
import json
import os.path as osp
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import List, Optional, Tuple

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from PIL import Image

from ..clip import resolve_model_name
from ..datasets.grid_distill import GridDistillDataset
from ..models.backbones.vfm import build_timm_vit
from ..models.segmentors.sliding_window import window_boxes
from ..models.utils.cpu_amp import cpu_amp_is_fast, measured_amp_speedup
from .allocator import keep_freed_memory, minor_page_faults

MODES = ('reference', 'one-window', 'batched', 'batched-bf16')
PROTOCOLS = ((448, 224), (336, 112), (224, 112))
# --cpu labels with a probability threshold, so that every variant computes the softmax
CPU_PROB_THD = 0.1
# --cpu --method: methods whose own loop is ClearCLIP's skeleton (no full-size refinement)
CPU_METHODS = ('clearclip', 'proxyclip', 'maskclip')
VOC21 = ['background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
         'chair', 'cow', 'dining table', 'dog', 'horse', 'motorbike', 'person', 'potted plant',
         'sheep', 'sofa', 'train', 'tv monitor']


def build_segmentor(model_name: str, crop: int, stride: int, window_batch_size: int,
                    num_classes: int, amp_dtype, cpu_amp_dtype=None, prob_thd: float = 0.0):
    """Random-weight segmentor at the real architecture's size."""

    names = (VOC21 + [f'class {i}' for i in range(len(VOC21), num_classes)])[:num_classes]
    return MODELS.build(dict(
        type='ZeroShotSegmentor',
        backbone=dict(type='DeCLIPViT', model_name=model_name, pretrained=None, attn_mode='qq'),
        text_classifier=dict(type='ZeroShotTextClassifier', class_names=names, templates='name'),
        slide_crop=crop, slide_stride=stride, window_batch_size=window_batch_size,
        amp_dtype=amp_dtype, cpu_amp_dtype=cpu_amp_dtype, prob_thd=prob_thd)).eval()


def reference_slide(model, img: torch.Tensor) -> torch.Tensor:
    """ClearCLIP's accumulation: one window per call, padded to the image and added."""
    H, W = img.shape[-2:]
    preds, count = None, img.new_zeros((1, 1, H, W))
    for y1, y2, x1, x2 in window_boxes(H, W, model.slide_crop, model.slide_stride):
        logits = model.query_logits(img[:, :, y1:y2, x1:x2])
        logits = F.pad(logits, (x1, W - x2, y1, H - y2))
        preds = logits if preds is None else preds + logits
        count[:, :, y1:y2, x1:x2] += 1
    return preds / count


def reference_predict(model, img: torch.Tensor):
    """ClearCLIP's ``forward_slide`` (one window per call) + ``postprocess_result``: logits x
    scale, softmax over queries, synonym max, argmax, ``prob_thd``; (C, H, W) probabilities and
    (1, H, W) labels of an image (1, 3, H, W) at its own size."""
    return model.classify(reference_slide(model, img)[0])


def cpu_variants(loop: str = 'clearclip', loop_bf16: bool = False) -> dict:
    """Name -> ``(cpu_fast_path, cpu_amp_dtype, own_loop)`` of each CPU variant: the method's
    own one-window loop (``'<loop>-loop'``), the project's eager fp32, its fast path; bf16
    where the CPU has bf16 instructions, also where they measured slower than fp32 (Intel
    without AMX): the table shows that row as it is, while ``cpu_amp_dtype='auto'`` skips it.
    ``loop_bf16``: the own loop in bf16 as well (ProxyCLIP's code vs the project in bf16)."""
    variants = {f'{loop}-loop': (False, None, True), 'project-fp32': (False, None, False),
                'project-fast': (True, None, False)}
    if cpu_amp_is_fast(torch.bfloat16)[0]:
        if loop_bf16:
            variants[f'{loop}-loop-bf16'] = (False, torch.bfloat16, True)
        variants['project-fast-bf16'] = (True, torch.bfloat16, False)
    return variants


@contextlib.contextmanager
def materialised_attention(model):
    """timm's attention blocks (the proxy VFM) as the original DINO code computes them:
    ``softmax(q k^T * scale) v`` with the weights in memory, not the fused kernel."""
    blocks = [m for m in model.modules() if hasattr(m, 'fused_attn')]
    before = [m.fused_attn for m in blocks]
    for m in blocks:
        m.fused_attn = False
    try:
        yield
    finally:
        for m, fused in zip(blocks, before):
            m.fused_attn = fused


def gemm_peak(size: int = 2048, repeats: int = 3) -> dict:
    """GFLOP/s of a large fp32 product (torch and oneDNN with a packed weight, the better one)
    and a bf16 product (smaller where bf16 is not native: it is emulated and slow)."""
    def rate(fn, n, m):
        fn()
        start = time.perf_counter()
        for _ in range(m):
            fn()
        return 2 * n ** 3 * m / (time.perf_counter() - start) / 1e9

    a, b = torch.randn(size, size), torch.randn(size, size)
    fp32 = rate(lambda: a @ b, size, repeats)
    packed = torch.ops.mkldnn._reorder_linear_weight(b, size)
    fp32 = max(fp32, rate(lambda: torch.ops.mkldnn._linear_pointwise(a, packed, None, 'none', [], ''),
                          size, repeats))
    n = size if cpu_amp_is_fast(torch.bfloat16)[0] else 256
    ab, bb = a[:n, :n].bfloat16(), b[:n, :n].bfloat16()
    return dict(fp32=fp32, bf16=rate(lambda: ab @ bb, n, repeats))


def predict_flops(model, img: torch.Tensor) -> float:
    """Floating-point operations of one ``predict`` of ``img``: torch's flop counter (matrix
    products, convolutions, attention) on one window of the eager fp32 path, times the number
    of windows (the labelling's elementwise work is not counted). ``nn.MultiheadAttention``'s
    fused inference op is switched off while counting (the counter cannot see into it) and the
    CPU's flash attention is counted as attention."""
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count
    model.cpu_fast_path, model.cpu_amp_dtype = False, None
    boxes = window_boxes(*img.shape[-2:], model.slide_crop, model.slide_stride)
    y1, y2, x1, x2 = boxes[0]
    cpu_attention = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu:
                     lambda q, k, v, *args, out_shape=None, **kwargs: sdpa_flop_count(q, k, v)}
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with FlopCounterMode(display=False, custom_mapping=cpu_attention) as counter, \
                torch.no_grad():
            model.query_logits(img[:, :, y1:y2, x1:x2])
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return float(counter.get_total_flops()) * len(boxes)


def run_cpu_protocol(model_name: str, height: int, width: int, crop: int, stride: int,
                     num_classes: int, repeats: int, peak: dict, flops: float = 0.0,
                     method: Optional[str] = None) -> List[dict]:
    """One protocol and class count: every :func:`cpu_variants` entry on the same model and
    image, interleaved ``repeats`` times after a warm-up that also gives the parity figures:
    ``max_prob_diff``, full-size probabilities against the project's eager fp32, and
    ``labels_changed_pct``, the labels of the timed runs (the default labelling, no full-size
    probabilities) against that reference's argmax; rows with median ms / image.
    ``flops``: the work of one prediction (0: counted here on the eager path). ``method``: a
    method config of :data:`CPU_METHODS` (its own windows; ``crop`` and ``stride`` unused)
    instead of ClearCLIP's; its own loop runs its VFM's attention materialised, as the
    original code does."""
    torch.manual_seed(0)
    if method is None:
        model = build_segmentor(model_name, crop, stride, 16, num_classes, None, None,
                                prob_thd=CPU_PROB_THD)
    else:
        cfg = method_model_cfg(method, model_name, num_classes, None)
        model = MODELS.build(dict(cfg, prob_thd=CPU_PROB_THD)).eval()
        crop, stride = model.slide_crop, model.slide_stride
    img = torch.randn(1, 3, height, width)
    loop = method or 'clearclip'
    variants = cpu_variants(loop, loop_bf16=method is not None)

    def run(name, keep=False):
        fast, dtype, own_loop = variants[name]
        model.cpu_fast_path, model.cpu_amp_dtype = fast, dtype
        model.keep_seg_logits = keep
        with torch.no_grad():
            if own_loop:
                with materialised_attention(model):
                    return reference_predict(model, img)
            sample = model.predict(img)[0]
            return (sample.seg_logits.data if keep else None), sample.pred_sem_seg.data

    flops = flops or predict_flops(model, img)
    ref_probs, ref_labels = run('project-fp32', keep=True)
    prob_diff = {'project-fp32': 0.0}
    for name in variants:  # warm-up and parity, one full-size probability tensor at a time
        if name != 'project-fp32':
            prob_diff[name] = float((run(name, keep=True)[0] - ref_probs).abs().max())
    del ref_probs
    times = {name: [] for name in variants}
    faults = {name: [] for name in variants}
    changed = {}  # labels of the timed (default) path against fp32 eager full-size probabilities
    for _ in range(repeats):
        for name in variants:
            before, start = minor_page_faults(), time.perf_counter()
            labels = run(name)[1]
            times[name].append(time.perf_counter() - start)
            faults[name].append(minor_page_faults() - before)
            changed.setdefault(name, float((labels != ref_labels).float().mean()) * 100)
    rows = []
    for name in variants:
        sec = statistics.median(times[name])
        gflops = flops / sec / 1e9
        dtype = 'bf16' if variants[name][1] == torch.bfloat16 else 'fp32'
        rows.append(dict(
            protocol=f'{crop}/{stride}', classes=num_classes, variant=name,
            ms_per_image=round(sec * 1000, 1),
            vs_loop=round(statistics.median(times[f'{loop}-loop']) / sec, 2),
            gflop=round(flops / 1e9, 2), gflop_per_s=round(gflops, 1),
            pct_of_peak=round(100 * gflops / peak[dtype], 1),
            page_faults=int(statistics.median(faults[name])),
            max_prob_diff=prob_diff[name], labels_changed_pct=round(changed[name], 4)))
    return rows


def cpu_summary() -> str:
    """This CPU (model, AVX-512 / AMX, native bf16 and its measured speed against fp32:
    :func:`~declip_mmseg.models.utils.cpu_amp.measured_amp_speedup`), torch threads and the
    load average."""
    import os
    import platform
    name = platform.processor() or platform.machine()
    flags = ''
    try:
        with open('/proc/cpuinfo') as f:
            info = f.read()
        name = next((ln.split(':', 1)[1].strip() for ln in info.splitlines()
                     if ln.startswith('model name')), name)
        flags = next((ln for ln in info.splitlines() if ln.startswith('flags')), '')
    except OSError:
        pass
    bf16 = cpu_amp_is_fast(torch.bfloat16)
    load = ', '.join(f'{v:.2f}' for v in os.getloadavg())
    return (f"CPU: {name}, {os.cpu_count()} cores, AVX-512: {'yes' if 'avx512f' in flags else 'no'}, "
            f"AMX: {'yes' if 'amx_tile' in flags else 'no'}, native bf16: "
            f"{'yes' if bf16[0] else 'no'} ({bf16[1]}), bf16 products "
            f'{measured_amp_speedup(torch.bfloat16):.2f}x fp32 (measured); torch {torch.__version__}, '
            f'{torch.get_num_threads()} threads; load average {load}')


def benchmark_cpu(model_name='ViT-B-16', height=448, width=640, protocols=PROTOCOLS,
                  class_counts=(21, 150, 847), repeats=3,
                  method: Optional[str] = None) -> Tuple[List[dict], dict]:
    """:func:`run_cpu_protocol` for every protocol and class count, in this process; returns
    the rows and the measured GEMM peak (GFLOP/s, fp32 and bf16). ``method``: that method's
    config and own protocol instead (``protocols`` unused)."""
    keep_freed_memory()
    peak = gemm_peak()
    rows = []
    for crop, stride in (protocols if method is None else [(0, 0)]):
        flops = 0.0  # counted at the first class count; the text head is ~1% of it
        for classes in class_counts:
            rows += run_cpu_protocol(model_name, height, width, crop, stride, classes, repeats,
                                     peak, flops, method=method)
            flops = flops or rows[-1]['gflop'] * 1e9
    return rows, peak


def fresh_process_repeats(model_name='ViT-B-16', height=448, width=640, crop=448, stride=224,
                          num_classes=21, processes=3, repeats=3) -> List[dict]:
    """The same protocol in ``processes`` fresh processes (steady times: within a few %)."""
    peak = dict(fp32=1.0, bf16=1.0)
    rows = []
    for i in range(processes):
        out = in_fresh_process(dict(fn='cpu_protocol', model_name=model_name, height=height,
                                    width=width, crop=crop, stride=stride,
                                    num_classes=num_classes, repeats=repeats, peak=peak,
                                    flops=1.0))
        rows += [dict(process=i, variant=r['variant'], ms_per_image=r['ms_per_image'],
                      page_faults=r['page_faults']) for r in out]
    return rows


def timed(fn, device: str, repeats: int):
    """Median seconds of ``repeats`` calls after one warm-up, peak memory in MiB (CUDA:
    allocated by torch; CPU: the process's peak RSS), and the last result."""
    out = fn()
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device == 'cuda'
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return statistics.median(times), peak, out


def run_mode(mode: str, model_name: str, height: int, width: int, crop: int, stride: int,
             num_classes: int, device: str, repeats: int, amp_dtype=None) -> dict:
    """Time one mode in this process; returns figures and a checksum of the output."""
    torch.manual_seed(0)
    wbs = 0 if mode.startswith('batched') else 1
    if mode == 'batched-bf16':
        amp_dtype = 'bfloat16'
    model = build_segmentor(model_name, crop, stride, wbs, num_classes, amp_dtype,
                            cpu_amp_dtype='bfloat16' if mode == 'batched-bf16' else None).to(device)
    img = torch.randn(1, 3, height, width, device=device)

    def once():
        with torch.no_grad(), model._autocast(img.device):
            return reference_slide(model, img) if mode == 'reference' else model.slide_logits(img)

    seconds, peak, out = timed(once, device, repeats)
    ms = seconds * 1000
    torch.save(out.float().cpu(), f'/tmp/declip_benchmark_{mode}_{device}.pt')
    return dict(mode=mode, device=device, windows=len(window_boxes(height, width, crop, stride)),
                ms_per_image=round(ms, 1), images_per_s=round(1000 / ms, 3),
                peak_mem_mib=round(peak, 1),
                precision=amp_dtype if (device == 'cuda' or mode == 'batched-bf16') and amp_dtype
                else 'fp32')


def in_fresh_process(args: dict) -> dict:
    """Run one measurement (``run_mode``, or ``run_train_steps`` with ``fn='train'``) in a new
    Python process, so that its peak memory is its own; returns its figures."""
    proc = subprocess.run([sys.executable, '-m', 'declip_mmseg.apis.benchmark', json.dumps(args)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'benchmark {args} failed:\n{proc.stderr}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def benchmark(model_name='ViT-B-16', height=448, width=608, crop=224, stride=112, num_classes=21,
              devices=None, repeats=3, amp_dtype='float16') -> List[dict]:
    """Run every mode on every device, each in its own process; adds speed-ups and max |diff|."""
    devices = devices or (['cpu', 'cuda'] if torch.cuda.is_available() else ['cpu'])
    rows = []
    for device in devices:
        group = []
        for mode in MODES:
            args = dict(mode=mode, model_name=model_name, height=height, width=width, crop=crop,
                        stride=stride, num_classes=num_classes, device=device, repeats=repeats,
                        amp_dtype=amp_dtype if device == 'cuda' else None)
            group.append(in_fresh_process(args))
        ref_out = torch.load(f'/tmp/declip_benchmark_reference_{device}.pt')
        for row in group:
            out = torch.load(f"/tmp/declip_benchmark_{row['mode']}_{device}.pt")
            row['max_abs_diff_vs_reference'] = float((out - ref_out).abs().max())
            row['labels_changed_pct'] = round(
                float((out.argmax(1) != ref_out.argmax(1)).float().mean()) * 100, 3)
            row['speedup_vs_reference'] = round(group[0]['ms_per_image'] / row['ms_per_image'], 2)
            row['speedup_vs_one_window'] = round(group[1]['ms_per_image'] / row['ms_per_image'], 2)
        rows += group
    return rows


def format_table(rows: List[dict]) -> str:
    """Markdown table of the rows' keys (in first-row order)."""
    cols = list(rows[0])
    cells = [[f'{r[c]:.2e}' if c in ('max_abs_diff_vs_reference', 'max_prob_diff') else str(r[c])
              for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ['| ' + ' | '.join(c.ljust(w) for c, w in zip(cols, widths)) + ' |',
             '|' + '|'.join('-' * (w + 2) for w in widths) + '|']
    lines += ['| ' + ' | '.join(v.ljust(w) for v, w in zip(row, widths)) + ' |' for row in cells]
    return '\n'.join(lines)


CONFIG_ROOT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs')
# Each --method is its protocol's model base: last block, windows, scale, post-processing.
METHOD_CONFIGS = {m: f'_base_/models/{m}_vit_b16.py'
                  for m in ('clearclip', 'sclip', 'naclip', 'proxyclip', 'maskclip')}
METHOD_CONFIGS['catseg'] = '_base_/models/catseg_declip_eva02_b16.py'  # slide protocol, fp32
# --train: the training config whose image size and autocast dtype are the defaults.
TRAIN_CONFIGS = {'declip': 'declip/declip_distill_coco.py',
                 'densevlm': 'densevlm/densevlm_coco.py',
                 'catseg': 'catseg/catseg_declip-eva02-b16_4xb1-80k_coco-stuff164k-384x384.py'}
# VFM name -> timm architecture and position-table size, for VFM files with random weights
VFM_ARCHS = {'dino-B-8': ('vit_base_patch8_224', 224), 'dino-B-16': ('vit_base_patch16_224', 224),
             'dinov2-B': ('vit_base_patch14_reg4_dinov2', 518),
             'dinov2-L': ('vit_large_patch14_reg4_dinov2', 518)}


def random_vfm_file(name: str, folder: str) -> str:
    """A weights file of VFM ``name`` with random weights, in ``folder``."""
    arch, size = VFM_ARCHS[name]
    path = osp.join(folder, 'vfm.pth')
    torch.save(build_timm_vit(arch, {'img_size': size}, {}).state_dict(), path)
    return path


def read_config(rel: str):
    """A config under configs/, without importing ``custom_imports``."""
    return Config.fromfile(osp.join(CONFIG_ROOT, rel), import_custom_modules=False)


def method_model_cfg(method: str, model_name: str, num_classes: int, amp_dtype) -> dict:
    """``model`` of ``method``'s config with random weights: CLIP ``model_name`` without
    pretrained weights, ``num_classes`` plain names, no autocast unless ``amp_dtype``; a proxy
    VFM gets random weights in a temp file."""
    model = read_config(METHOD_CONFIGS[method]).model.to_dict()
    model['backbone'].update(model_name=model_name, pretrained=None)
    if model.get('checkpoint'):  # CAT-Seg: random weights instead of its released file
        model['checkpoint'] = None
    proxy = model['backbone'].get('proxy')
    if proxy:
        proxy['weights'] = random_vfm_file(proxy['vfm'], tempfile.mkdtemp(prefix='declip_bench_'))
    names = (VOC21 + [f'class {i}' for i in range(len(VOC21), num_classes)])[:num_classes]
    model['text_classifier'].update(class_names=names, templates='name')
    if 'amp_dtype' in model:  # CAT-Seg runs in fp32, as the reference
        model['amp_dtype'] = amp_dtype
    return model


def build_method(method: str, model_name: str, num_classes: int, amp_dtype):
    """Random-weight segmentor of ``method``, built from its config."""

    return MODELS.build(method_model_cfg(method, model_name, num_classes, amp_dtype)).eval()


def train_defaults(method: str) -> dict:
    """Image size, autocast dtype and student architecture of ``method``'s training config
    (DeCLIP: 560, bfloat16; DenseVLM: 512, float16; both EVA02-B-16; CAT-Seg: 384 crops, fp32)."""
    cfg = read_config(TRAIN_CONFIGS[method])
    if cfg.model.type == 'CATSeg':
        crop = next(t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'RandomCrop')
        return dict(image_size=crop['crop_size'][0], amp_dtype=None,
                    model_name=cfg.model.backbone.model_name)
    return dict(image_size=cfg.train_dataloader.dataset.image_size,
                amp_dtype=cfg.optim_wrapper.dtype, model_name=cfg.model.student.model_name)


def run_method(method: str, model_name: str, height: int, width: int, num_classes: int,
               device: str, repeats: int, amp_dtype=None) -> dict:
    """Time whole predictions of one method in this process."""
    torch.manual_seed(0)
    model = build_method(method, model_name, num_classes, amp_dtype).to(device)
    img = torch.randn(1, 3, height, width, device=device)
    seconds, peak, _ = timed(lambda: model.predict(img), device, repeats)
    ms = seconds * 1000
    if hasattr(model, 'views'):  # CAT-Seg: its own fixed views
        windows = model.views(height, width)
    else:
        windows = (len(window_boxes(height, width, model.slide_crop, model.slide_stride))
                   if model.inference_mode == 'slide' else 1)
    post = ' + '.join(type(s).__name__ for s in getattr(model, 'postprocess', [])) or 'none'
    autocast = device == 'cuda' and amp_dtype and getattr(model, 'amp_dtype', None) is not None
    return dict(method=method, device=device, windows=windows, postprocess=post,
                ms_per_image=round(ms, 1), images_per_s=round(1000 / ms, 3),
                peak_mem_mib=round(peak, 1), precision=amp_dtype if autocast else 'fp32')


def benchmark_methods(methods, model_name='ViT-B-16', height=448, width=608, num_classes=21,
                      devices=None, repeats=3, amp_dtype='float16') -> List[dict]:
    """ClearCLIP first, then each of ``methods``, per device, each in a fresh process."""
    devices = devices or (['cpu', 'cuda'] if torch.cuda.is_available() else ['cpu'])
    rows = []
    for device in devices:
        group = []
        for method in ['clearclip'] + [m for m in methods if m != 'clearclip']:
            group.append(in_fresh_process(dict(
                fn='method', method=method, model_name=model_name, height=height, width=width,
                num_classes=num_classes, device=device, repeats=repeats,
                amp_dtype=amp_dtype if device == 'cuda' else None)))
        for row in group:
            row['vs_clearclip'] = round(row['ms_per_image'] / group[0]['ms_per_image'], 2)
        rows += group
    return rows


def train_autocast(device: str, amp_dtype: Optional[str]):
    """Autocast for a timed training step: ``amp_dtype`` ('float16', 'bfloat16') or off."""
    return (torch.autocast(device, dtype=getattr(torch, amp_dtype)) if amp_dtype
            else torch.autocast(device, enabled=False))


def run_train_steps(model_name: str, vfm_name: str, image_size: int, batch_size: int,
                    device: str, steps: int, amp_dtype=None) -> dict:
    """Time DeCLIP distillation steps (forward, backward, AdamW) with random weights;
    ``vfm_name`` is 'dinov2-B' or 'dinov2-L'."""



    torch.manual_seed(0)
    model = MODELS.build(dict(type='DeCLIPDistiller', student=dict(
        type='DeCLIPViT', model_name=model_name, attn_mode='csa', attn_scale=1.0)))
    folder = tempfile.mkdtemp(prefix='declip_bench_')
    vfm_file = random_vfm_file(vfm_name, folder)
    model.to(device)
    model.attach_teachers(torch.device(device), vfm=dict(name=vfm_name, weights=vfm_file))
    rng = np.random.default_rng(0)
    for i in range(batch_size):
        Image.fromarray((rng.random((480, 640, 3)) * 255).astype(np.uint8)).save(f'{folder}/{i}.jpg')
    patch = model.student.patch_size
    crop = model.teacher.image_size
    data = GridDistillDataset(img_dir=folder, image_size=image_size,
                              crop_size=crop[0] if isinstance(crop, (tuple, list)) else crop,
                              student_patch=patch, vfm_patch=model._teachers['vfm'].patch_size)
    batch = default_collate([data[i] for i in range(batch_size)])
    batch = {'inputs': batch['inputs'].to(device),
             'data_samples': {k: v.to(device) for k, v in batch['data_samples'].items()}}
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    autocast = train_autocast(device, amp_dtype)

    def step():
        with autocast:
            losses = model.loss(batch['inputs'], batch['data_samples'])
        optim.zero_grad()
        sum(losses.values()).backward()
        optim.step()

    sec, peak, _ = timed(step, device, steps)
    return dict(mode='train', device=device, model=model_name, vfm=vfm_name,
                image_size=image_size, batch=batch_size, precision=amp_dtype or 'fp32',
                s_per_step=round(sec, 3), images_per_s=round(batch_size / sec, 3),
                peak_mem_mib=round(peak, 1))


def run_densevlm_train_steps(model_name: str, teacher_name: str, image_size: int,
                             batch_size: int, device: str, steps: int, amp_dtype=None) -> dict:
    """Time DenseVLM steps (teacher forward, student forward / backward, AdamW) with random
    weights at the real sizes; the 316-class text embeddings are random too (made once before
    training, not part of a step)."""




    torch.manual_seed(0)
    folder = tempfile.mkdtemp(prefix='densevlm_bench_')
    rng = np.random.default_rng(0)
    names = f'{folder}/names.txt'
    with open(names, 'w') as f:
        f.write('\n'.join(f'class {i}' for i in range(316)) + '\n')
    files = {}
    for side, name in (('student', model_name), ('teacher', teacher_name)):
        dim = open_clip.get_model_config(resolve_model_name(name))['embed_dim']
        files[side] = f'{folder}/{side}.npy'
        np.save(files[side], (rng.normal(size=(316, dim)) * 0.05).astype(np.float32))
    model = MODELS.build(dict(
        type='DenseVLMDistiller', class_names=names, split_synonyms=False,
        student=dict(type='DeCLIPViT', model_name=model_name, attn_mode='identity',
                     residual=True, ffn=True),
        student_text_embeddings=files['student'], teacher_text_embeddings=files['teacher']))
    model.to(device)
    model.attach_teachers(torch.device(device), teacher=dict(model_name=teacher_name))
    for i in range(batch_size):
        Image.fromarray((rng.random((480, 640, 3)) * 255).astype(np.uint8)).save(f'{folder}/{i}.jpg')
    data = GridDistillDataset(img_dir=folder, image_size=image_size,
                              student_patch=model.student.patch_size, grid_style='densevlm',
                              max_boxes=36, with_crops=False, with_vfm_view=False)
    batch = default_collate([data[i] for i in range(batch_size)])
    inputs = batch['inputs'].to(device)
    samples = {k: v.to(device) for k, v in batch['data_samples'].items()}
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    autocast = train_autocast(device, amp_dtype)

    def step():
        with autocast:
            loss = model.loss(inputs, samples)['loss_kl']
        optim.zero_grad()
        loss.backward()
        optim.step()

    sec, peak, _ = timed(step, device, steps)
    return dict(mode='train-densevlm', device=device, model=model_name, teacher=teacher_name,
                image_size=image_size, batch=batch_size, precision=amp_dtype or 'fp32',
                s_per_step=round(sec, 3), images_per_s=round(batch_size / sec, 3),
                peak_mem_mib=round(peak, 1))


def run_catseg_train_steps(model_name: str, image_size: int, batch_size: int, device: str,
                           steps: int, amp_dtype=None, num_classes: int = 171) -> dict:
    """Time CAT-Seg training steps (CLIP + text tower + aggregator forward, BCE, backward,
    gradient clipping, AdamW) of the COCO-Stuff config's model with random weights, 171
    classes, ``image_size`` crops."""
    torch.manual_seed(0)
    cfg = read_config(TRAIN_CONFIGS['catseg']).model.to_dict()
    cfg['backbone'].update(model_name=model_name, pretrained=None)
    cfg['text_classifier']['class_names'] = [f'class {i}' for i in range(num_classes)]
    model = MODELS.build(cfg).to(device).train()
    inputs = torch.randn(batch_size, 3, image_size, image_size, device=device)
    samples = []
    for _ in range(batch_size):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, image_size, image_size),
                                                         device=device))
        samples.append(sample)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=2e-4, weight_decay=1e-4)
    autocast = train_autocast(device, amp_dtype)

    def step():
        with autocast:
            loss = model.loss(inputs, samples)['loss_sem_seg']
        optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.01)
        optim.step()

    sec, peak, _ = timed(step, device, steps)
    return dict(mode='train-catseg', device=device, model=model_name, image_size=image_size,
                batch=batch_size, classes=num_classes, precision=amp_dtype or 'fp32',
                s_per_step=round(sec, 3), images_per_s=round(batch_size / sec, 3),
                peak_mem_mib=round(peak, 1))


def benchmark_train(model_name=None, vfm_name='dinov2-B', image_size=None, batch_size=2,
                    devices=None, steps=2, amp_dtype=None, method='declip',
                    teacher_name='EVA02-L-14-336') -> List[dict]:
    """Training-step figures per device, each in its own process. ``method``: 'declip'
    (student + DINOv2) or 'densevlm' (student + P-VLM teacher); ``model_name``,
    ``image_size`` and ``amp_dtype`` default to the method's training config."""
    if method not in TRAIN_CONFIGS:
        raise ValueError(f'unknown training method {method!r}: one of {sorted(TRAIN_CONFIGS)}')
    defaults = train_defaults(method)
    model_name = model_name or defaults['model_name']
    image_size = image_size or defaults['image_size']
    amp_dtype = amp_dtype or defaults['amp_dtype']
    devices = devices or (['cpu', 'cuda'] if torch.cuda.is_available() else ['cpu'])
    rows = []
    for device in devices:
        common = dict(model_name=model_name, image_size=image_size, batch_size=batch_size,
                      device=device, steps=steps, amp_dtype=amp_dtype if device == 'cuda' else None)
        if method == 'densevlm':
            args = dict(fn='train_densevlm', teacher_name=teacher_name, **common)
        elif method == 'catseg':
            args = dict(fn='train_catseg', **common)
        else:
            args = dict(fn='train', vfm_name=vfm_name, **common)
        rows.append(in_fresh_process(args))
    return rows


if __name__ == '__main__':  # one measurement, in a fresh process
    keep_freed_memory()
    kwargs = json.loads(sys.argv[1])
    fn = {'train': run_train_steps, 'train_densevlm': run_densevlm_train_steps,
          'train_catseg': run_catseg_train_steps, 'method': run_method,
          'cpu_protocol': run_cpu_protocol}.get(kwargs.pop('fn', None), run_mode)
    print(json.dumps(fn(**kwargs)))
