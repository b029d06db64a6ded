"""The real-size GPU benchmark of tools/gpu_check.sh (tools/gpu_benchmark.py), in one process.

Random weights at the real architectures' sizes, built by :mod:`.benchmark`'s builders:

* ViT-B/16 slide inference (ClearCLIP's last block), windows 448 / stride 224 and 336 / 112,
  in fp32, fp16 and bf16 autocast: this package's batched windows against the original
  one-window-per-call loop (:func:`.benchmark.reference_slide`) at the same precision, on the
  same device; images / s, peak memory, and the largest logit difference and share of changed
  labels against the fp32 reference loop;
* one DeCLIP distillation step (EVA02-B/16 student + DINOv2-B teacher, the training config's
  image size and autocast dtype): s / step and peak memory;
* NACLIP + PAMR and ProxyCLIP (DINO-B/8 proxy) whole predictions under their configs: ms / image.

Peak memory is what torch allocated on the GPU during the timed calls (weights included),
or the process's peak RSS so far on the CPU. :data:`QUICK` shrinks images and steps for a
CPU dry run of the same code.
"""
import platform
import subprocess
import time
from dataclasses import dataclass
from typing import List, Optional, Tuple

import torch

from ..models.segmentors.sliding_window import window_boxes
from ..models.segmentors.zero_shot_segmentor import AMP_DTYPES
from .benchmark import (
    build_segmentor,
    format_table,
    reference_slide,
    run_method,
    run_train_steps,
    timed,
    train_defaults,
)

PRECISIONS = {'fp32': None, 'fp16': 'float16', 'bf16': 'bfloat16'}


@dataclass(frozen=True)
class Sizes:
    """What one benchmark run measures (image sizes in pixels)."""
    height: int = 448
    width: int = 608
    windows: Tuple[Tuple[int, int], ...] = ((448, 224), (336, 112))  # (window, stride)
    classes: int = 21
    repeats: int = 5
    train_image_size: Optional[int] = None  # None: the DeCLIP training config's (560)
    train_batch: int = 2
    train_steps: int = 3
    methods: Tuple[str, ...] = ('naclip', 'proxyclip')


FULL = Sizes()
QUICK = Sizes(height=224, width=336, windows=((224, 112), (112, 56)), repeats=1,
              train_image_size=224, train_batch=1, train_steps=1)


def device_line(device: str) -> str:
    """'NVIDIA H100 80GB HBM3, driver 580.159.04, torch 2.11.0+cu130 (CUDA 13.0)' or the CPU."""
    torch_txt = f'torch {torch.__version__}' + (f' (CUDA {torch.version.cuda})' if torch.version.cuda
                                                else '')
    if device != 'cuda':
        return f'CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} ' \
               f'threads, {torch_txt}'
    try:
        driver = subprocess.run(['nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader'],
                                capture_output=True, text=True, timeout=30).stdout.split()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        driver = 'unknown'
    return f'{torch.cuda.get_device_name()}, driver {driver}, {torch_txt}'


def _set_precision(model, device: str, amp: Optional[str]):
    """Autocast dtype of ``model`` on ``device`` (None: fp32)."""
    if device == 'cuda':
        model.amp_dtype = AMP_DTYPES[amp]
    else:
        model.cpu_amp_dtype = AMP_DTYPES[amp]


def window_rows(device: str, sizes: Sizes, crop: int, stride: int) -> List[dict]:
    """Batched windows vs the one-window loop at one window size, per precision."""
    torch.manual_seed(0)
    model = build_segmentor('ViT-B-16', crop, stride, 0, sizes.classes, None).to(device)
    img = torch.randn(1, 3, sizes.height, sizes.width, device=device)

    def loop():
        with torch.no_grad(), model._autocast(img.device):
            return reference_slide(model, img)

    def batched():
        with torch.no_grad():
            return model.slide_logits(img)

    rows, ref32 = [], None
    for name, amp in PRECISIONS.items():
        _set_precision(model, device, amp)
        t_ref, mem_ref, out_ref = timed(loop, device, sizes.repeats)
        t_bat, mem_bat, out_bat = timed(batched, device, sizes.repeats)
        if ref32 is None:
            ref32 = out_ref.float()
        diff = (out_bat.float() - ref32).abs().max().item()
        changed = (out_bat.argmax(1) != ref32.argmax(1)).float().mean().item() * 100
        rows.append({'window / stride': f'{crop} / {stride}',
                     'windows': len(window_boxes(sizes.height, sizes.width, crop, stride)),
                     'precision': name,
                     'reference loop img/s': f'{1 / t_ref:.2f}',
                     'batched img/s': f'{1 / t_bat:.2f}',
                     'speed-up': f'{t_ref / t_bat:.2f}x',
                     'peak MiB (loop / batched)': f'{mem_ref:.0f} / {mem_bat:.0f}',
                     'max abs diff vs fp32 loop': f'{diff:.1e}',
                     'labels changed %': f'{changed:.3f}'})
    return rows


def inference_rows(device: str, sizes: Sizes) -> List[dict]:
    """:func:`window_rows` for every window size of ``sizes``; see the module doc."""
    rows = []
    for crop, stride in sizes.windows:
        rows += window_rows(device, sizes, crop, stride)
        if device == 'cuda':
            torch.cuda.empty_cache()
    return rows


def train_row(device: str, sizes: Sizes) -> dict:
    """One DeCLIP distillation step at the training config's size and dtype."""
    cfg = train_defaults('declip')
    amp = cfg['amp_dtype']
    row = run_train_steps(cfg['model_name'], 'dinov2-B', sizes.train_image_size or cfg['image_size'],
                          sizes.train_batch, device, sizes.train_steps, amp)
    return {'step': f"DeCLIP distillation, {cfg['model_name']} + DINOv2-B", 'image size': row['image_size'],
            'batch': row['batch'], 'precision': row['precision'], 's / step': row['s_per_step'],
            'peak MiB': f"{row['peak_mem_mib']:.0f}"}


def method_rows(device: str, sizes: Sizes) -> List[dict]:
    """Whole predictions of the training-free methods with post-processing (fp16 on CUDA)."""
    rows = []
    for method in sizes.methods:
        row = run_method(method, 'ViT-B-16', sizes.height, sizes.width, sizes.classes, device,
                         sizes.repeats, 'float16' if device == 'cuda' else None)
        rows.append({'method': method, 'windows': row['windows'], 'post-processing': row['postprocess'],
                     'precision': row['precision'], 'ms / image': row['ms_per_image'],
                     'peak MiB': f"{row['peak_mem_mib']:.0f}"})
        if device == 'cuda':
            torch.cuda.empty_cache()
    return rows


def gpu_benchmark(device: str = 'cuda', sizes: Sizes = FULL, log=print) -> str:
    """Run every part; returns the markdown report (``log`` gets each part as it finishes)."""
    if device == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda, but torch sees no GPU (torch.cuda.is_available() is False); '
                           'use --device cpu for a dry run')
    start = time.perf_counter()
    parts = [f'Device: {device_line(device)}. Random weights, real sizes; input '
             f'{sizes.height}x{sizes.width}, {sizes.classes} queries.']
    for title, fn in (('ViT-B/16 slide inference (ClearCLIP last block)', inference_rows),
                      ('Distillation step', lambda d, s: [train_row(d, s)]),
                      ('Training-free methods, whole prediction', method_rows)):
        t0 = time.perf_counter()
        part = f'\n### {title}\n\n{format_table(fn(device, sizes))}\n\n({time.perf_counter() - t0:.0f} s)'
        log(part)
        parts.append(part)
    parts.append(f'\nTotal {time.perf_counter() - start:.0f} s.')
    return '\n'.join(parts) + '\n'
