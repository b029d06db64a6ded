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
"""
import json
import resource
import statistics
import subprocess
import sys
import time
from typing import List

import torch
import torch.nn.functional as F

from ..models.segmentors.sliding_window import window_boxes

MODES = ('reference', 'one-window', 'batched', 'batched-bf16')
VOC21 = ['background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
         'chair', 'cow', 'dining table', 'dog', 'horse', 'motorbike', 'person', 'potted plant',
         'sheep', 'sofa', 'train', 'tv monitor']


def build_segmentor(model_name: str, crop: int, stride: int, window_batch_size: int,
                    num_classes: int, amp_dtype, cpu_amp_dtype=None):
    """Random-weight segmentor at the real architecture's size."""
    from mmseg.registry import MODELS

    import declip_mmseg  # noqa: F401
    names = (VOC21 + [f'class {i}' for i in range(len(VOC21), num_classes)])[:num_classes]
    return MODELS.build(dict(
        type='ZeroShotSegmentor',
        backbone=dict(type='DeCLIPViT', model_name=model_name, pretrained=None, attn_mode='qq'),
        text_classifier=dict(type='ZeroShotTextClassifier', class_names=names, templates='name'),
        slide_crop=crop, slide_stride=stride, window_batch_size=window_batch_size,
        amp_dtype=amp_dtype, cpu_amp_dtype=cpu_amp_dtype)).eval()


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

    out = once()  # warm-up
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = once()
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    ms = statistics.median(times) * 1000
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device == 'cuda'
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    torch.save(out.float().cpu(), f'/tmp/declip_benchmark_{mode}_{device}.pt')
    return dict(mode=mode, device=device, windows=len(window_boxes(height, width, crop, stride)),
                ms_per_image=round(ms, 1), images_per_s=round(1000 / ms, 3),
                peak_mem_mib=round(peak, 1),
                precision=amp_dtype if (device == 'cuda' or mode == 'batched-bf16') and amp_dtype
                else 'fp32')


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
            proc = subprocess.run([sys.executable, '-m', 'declip_mmseg.apis.benchmark',
                                   json.dumps(args)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f'benchmark mode {mode} on {device} failed:\n{proc.stderr}')
            group.append(json.loads(proc.stdout.strip().splitlines()[-1]))
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
    cols = ['device', 'precision', 'mode', 'windows', 'ms_per_image', 'images_per_s',
            'peak_mem_mib', 'speedup_vs_reference', 'speedup_vs_one_window',
            'max_abs_diff_vs_reference', 'labels_changed_pct']
    cells = [[str(r[c]) if not isinstance(r[c], float) or c != 'max_abs_diff_vs_reference'
              else f'{r[c]:.2e}' for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ['| ' + ' | '.join(c.ljust(w) for c, w in zip(cols, widths)) + ' |',
             '|' + '|'.join('-' * (w + 2) for w in widths) + '|']
    lines += ['| ' + ' | '.join(v.ljust(w) for v, w in zip(row, widths)) + ' |' for row in cells]
    return '\n'.join(lines)


if __name__ == '__main__':  # one mode, in a fresh process
    print(json.dumps(run_mode(**json.loads(sys.argv[1]))))
