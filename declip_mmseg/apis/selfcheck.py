"""Self-check of every device-specific path (the logic behind tools/selfcheck.py).

On tiny random-weight models written to files in the real formats (and loaded through the
real loaders), then at one real size:

* ``inference <dtype>``: slide inference under autocast vs fp32 (label agreement, largest
  cosine-logit difference);
* ``text encoding``: the text classifier encoding its class names on the device vs the CPU;
* ``distill step <dtype>``: DeCLIP distillation steps through mmengine's ``train_step`` with
  ``AmpOptimWrapper`` (CUDA; GradScaler for fp16) or CPU autocast, vs an fp32 step;
* ``dist_test``: tools/dist_test.sh with 2 processes (NCCL on CUDA, gloo on CPU) gives the
  metrics of tools/test.py with 1;
* ``benchmark``: the real-size rows of :mod:`declip_mmseg.apis.benchmark` (ViT-B/16 slide
  inference; EVA02-B/16 + DINOv2-B distillation step).

CPU and CUDA run the same code; only the device and the autocast dtypes differ. Every check
gives ``pass``, ``fail`` or ``skip`` (with the reason) and its figures.
"""
import contextlib
import os
import os.path as osp
import re
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass
from typing import Callable, List, Optional

import torch
from mmengine.dataset import default_collate
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS
from PIL import Image

from ..datasets.grid_distill import GridDistillDataset
from ..models.heads import ZeroShotTextClassifier
from ..models.utils import cpu_amp_is_fast
from ..models.utils.cpu_amp import measured_amp_speedup
from ..testing import TINY_EVA_ARCH, TINY_VFM_ARCH, write_tiny_clip, write_tiny_vfm
from ..testing.synthetic_data import make_voc
from .benchmark import benchmark, benchmark_train, format_table

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NAMES = ['background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat',
         'chair', 'cow', 'dining table', 'dog', 'horse', 'motorbike', 'person', 'potted plant',
         'sheep', 'sofa', 'train', 'tv monitor']
DTYPES = {'float16': torch.float16, 'bfloat16': torch.bfloat16}
# Tolerances of reduced precision against fp32 (cosine logits lie in [-1, 1]); a broken
# autocast path lands far outside them (labels agree ~1/21 by chance).
LOGIT_TOL = {'float16': 1e-2, 'bfloat16': 5e-2}
MIN_AGREEMENT_PCT = {'float16': 97.0, 'bfloat16': 90.0}
LOSS_RTOL = {None: 1e-5, 'float16': 2e-2, 'bfloat16': 5e-2}
REAL_SIZE_MAX_LABELS_CHANGED_PCT = 5.0  # fp32 rows must also agree to 1e-4


class Skip(Exception):
    """A check that cannot run here; the message says why."""


@dataclass
class CheckResult:
    name: str
    status: str      # 'pass' | 'fail' | 'skip'
    figures: str
    seconds: float


class SelfCheck:
    """Runs the checks on ``device`` ('cpu' or 'cuda') in ``workdir`` (a new temporary
    folder when None). ``log`` receives progress lines."""

    def __init__(self, device: str, workdir: Optional[str] = None,
                 log: Callable[[str], None] = print):
        if device not in ('cpu', 'cuda'):
            raise ValueError(f"--device must be 'cpu' or 'cuda', got {device!r}")
        if device == 'cuda' and not torch.cuda.is_available():
            raise RuntimeError(f'--device cuda: torch {torch.__version__} sees no CUDA GPU '
                               '(check nvidia-smi and that torch was installed with CUDA); '
                               'run with --device cpu')
        self.device = device
        self.workdir = workdir or tempfile.mkdtemp(prefix='declip_selfcheck_')
        self.log = log
        self.results: List[CheckResult] = []
        self._clip = self._eva = self._vfm = None

    # -- the tiny models (files in the real formats) -------------------------------------
    @property
    def clip_files(self):
        if self._clip is None:
            self._clip = write_tiny_clip(osp.join(self.workdir, 'clip'), name='TinyCLIP-Check')
        return self._clip

    @property
    def eva_files(self):
        if self._eva is None:
            self._eva = write_tiny_clip(osp.join(self.workdir, 'eva'), name='TinyEVA-Check',
                                        arch=TINY_EVA_ARCH)
        return self._eva

    @property
    def vfm_file(self):
        if self._vfm is None:
            self._vfm = write_tiny_vfm(osp.join(self.workdir, 'vfm', 'dinov2_tiny.pth'))
        return self._vfm

    # -- running ---------------------------------------------------------------------------
    def run(self, name: str, fn: Callable[[], tuple]) -> CheckResult:
        """``fn`` returns ``(ok, figures)`` or raises :class:`Skip`; errors are failures."""
        self.log(f'[selfcheck] {name} ...')
        start = time.perf_counter()
        try:
            ok, figures = fn()
            status = 'pass' if ok else 'fail'
        except Skip as why:
            status, figures = 'skip', str(why)
        except Exception as err:  # noqa: BLE001 - reported as a failed check
            self.log(traceback.format_exc())
            status, figures = 'fail', f'{type(err).__name__}: {str(err).splitlines()[0][:200]}'
        result = CheckResult(name, status, figures, time.perf_counter() - start)
        self.log(f'[selfcheck] {name}: {status} ({result.seconds:.1f} s) {figures}')
        self.results.append(result)
        return result

    def run_all(self, real_size: bool = True) -> List[CheckResult]:
        os.environ.setdefault('DECLIP_CACHE_DIR', osp.join(self.workdir, 'text_cache'))
        for dtype in DTYPES:
            self.run(f'inference {dtype}', lambda d=dtype: self.check_inference(d))
        self.run('text encoding', self.check_text_encoding)
        for dtype in self.train_dtypes():
            self.run(f'distill step {dtype}', lambda d=dtype: self.check_distill_step(d))
        self.run('dist_test 2 processes', self.check_dist_test)
        if real_size:
            self.run('benchmark inference ViT-B/16', self.check_benchmark_inference)
            self.run('benchmark train EVA02-B/16', self.check_benchmark_train)
        else:
            for name in ('benchmark inference ViT-B/16', 'benchmark train EVA02-B/16'):
                self.results.append(CheckResult(name, 'skip', '--skip-real-size', 0.0))
        return self.results

    def train_dtypes(self):
        # mmengine's AmpOptimWrapper (with its GradScaler) needs an accelerator; the CPU
        # trains under bf16 autocast (or fp32, as tools/train.py does there)
        return ['float16', 'bfloat16'] if self.device == 'cuda' else ['bfloat16']

    # -- checks ---------------------------------------------------------------------------
    def tiny_segmentor(self):
        arch, ckpt = self.clip_files
        model = MODELS.build(dict(
            type='ZeroShotSegmentor',
            backbone=dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt, attn_mode='qq'),
            text_classifier=dict(type='ZeroShotTextClassifier', class_names=NAMES,
                                 templates='name', cache_dir=False, encode_device=self.device),
            slide_crop=32, slide_stride=16, window_batch_size=4, amp_dtype=None,
            cpu_amp_dtype=None))
        return model.to(self.device).eval()

    def check_inference(self, dtype: str):
        """Slide inference with autocast ``dtype`` vs fp32 on the same model and image."""
        model = self.tiny_segmentor()
        gen = torch.Generator().manual_seed(0)
        img = torch.randn(1, 3, 75, 101, generator=gen).to(self.device)
        meta = [dict(img_shape=(75, 101), ori_shape=(75, 101))]

        def infer():
            with torch.no_grad():
                logits = model.encode_decode(img, meta)[0]
                return logits, model.classify(logits)[1]

        ref_logits, ref_labels = infer()
        # the segmentor's own autocast switch: amp_dtype on CUDA, cpu_amp_dtype on the CPU
        setattr(model, 'amp_dtype' if self.device == 'cuda' else 'cpu_amp_dtype', DTYPES[dtype])
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always')
                start = time.perf_counter()
                logits, labels = infer()
                ms = (time.perf_counter() - start) * 1000
        except RuntimeError as err:
            if self.device == 'cpu':
                raise Skip(f'CPU autocast to {dtype} is not supported by torch '
                           f'{torch.__version__}: {str(err).splitlines()[0][:120]}') from err
            raise
        disabled = [str(w.message) for w in caught if 'autocast' in str(w.message).lower()
                    and 'not supported' in str(w.message).lower()]
        if disabled and self.device == 'cpu':  # older torch: a warning, then fp32
            raise Skip(f'torch {torch.__version__}: {disabled[0][:150]}')
        diff = float((logits.float() - ref_logits).abs().max())
        agree = float((labels == ref_labels).float().mean()) * 100
        ok = (logits.dtype == torch.float32 and bool(torch.isfinite(logits).all())
              and 0 < diff <= LOGIT_TOL[dtype] and agree >= MIN_AGREEMENT_PCT[dtype])
        speed = '' if self.device == 'cuda' else \
            f", native on this CPU: {'yes' if cpu_amp_is_fast(DTYPES[dtype])[0] else 'no'}"
        return ok, (f'labels agree {agree:.2f}% (>= {MIN_AGREEMENT_PCT[dtype]}), '
                    f'max abs logit diff '
                    f'{diff:.2e} (0 < . <= {LOGIT_TOL[dtype]:.0e}; 0 = autocast had no effect), '
                    f'{ms:.0f} ms{speed}')

    def check_text_encoding(self):
        """The text classifier encodes on the device; same embeddings as on the CPU."""
        arch, ckpt = self.clip_files
        common = dict(class_names=NAMES, model_name=arch, pretrained=ckpt,
                      templates='openai_imagenet_7', cache_dir=False)
        ref = ZeroShotTextClassifier(encode_device='cpu', **common).query_embeddings
        start = time.perf_counter()
        emb = ZeroShotTextClassifier(encode_device=self.device, **common).query_embeddings
        seconds = time.perf_counter() - start
        diff = float((emb - ref).abs().max())
        norm_err = float((emb.norm(dim=-1) - 1).abs().max())
        ok = emb.shape == ref.shape and diff < 1e-3 and norm_err < 1e-5
        return ok, (f'{len(NAMES)} names x 7 templates on {self.device}: max abs diff vs CPU '
                    f'{diff:.1e}, unit norm within {norm_err:.0e}, {seconds:.1f} s')

    def distill_batch(self, student_patch: int):
        folder = osp.join(self.workdir, 'distill_images')
        if not osp.isdir(folder):
            os.makedirs(folder)
            gen = torch.Generator().manual_seed(0)
            for i in range(2):
                arr = (torch.rand(48 + 8 * i, 64, 3, generator=gen) * 255).byte().numpy()
                Image.fromarray(arr).save(osp.join(folder, f'{i}.jpg'))
        data = GridDistillDataset(img_dir=folder, image_size=64, crop_size=32,
                                  student_patch=student_patch, vfm_patch=14, max_boxes=6)
        return default_collate([data[0], data[1]])

    def distiller(self):
        arch, ckpt = self.eva_files
        model = MODELS.build(dict(
            type='DeCLIPDistiller', loss_content_weight=1.0, loss_context_weight=0.25,
            student=dict(type='DeCLIPViT', model_name=arch, pretrained=ckpt, attn_mode='csa',
                         attn_scale=1.0))).to(self.device)
        # as DistillHook.before_train: the frozen teachers on the model's device
        model.attach_teachers(torch.device(self.device),
                              vfm=dict(name='dinov2-B', weights=self.vfm_file, **TINY_VFM_ARCH))
        return model.train()

    def optim_wrapper(self, model, dtype: Optional[str]):
        """mmengine's optimizer wrapper as the Runner builds it from a config, and the autocast
        around ``train_step`` (only CPU autocast needs one; AmpOptimWrapper has its own)."""
        cfg = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.1))
        outer = contextlib.nullcontext()
        if dtype is not None and self.device == 'cuda':
            cfg.update(type='AmpOptimWrapper', dtype=dtype, loss_scale='dynamic')
        elif dtype is not None:
            outer = torch.autocast('cpu', dtype=DTYPES[dtype])
        return build_optim_wrapper(model, cfg), outer

    def train_steps(self, dtype: Optional[str], steps: int):
        torch.manual_seed(0)
        model = self.distiller()
        batch = self.distill_batch(model.student.patch_size)
        wrapper, outer = self.optim_wrapper(model, dtype)
        before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        history = []
        start = time.perf_counter()
        for _ in range(steps):
            with outer:
                log_vars = model.train_step(batch, wrapper)
            history.append({k: float(torch.as_tensor(v).detach()) for k, v in log_vars.items()})
        seconds = (time.perf_counter() - start) / steps
        changed = sum(not torch.equal(p.detach(), before[n])
                      for n, p in model.named_parameters() if p.requires_grad)
        finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
        scaler = getattr(wrapper, 'loss_scaler', None)
        return history, changed, len(before), finite, scaler, seconds

    def check_distill_step(self, dtype: str):
        """Distillation steps through ``train_step`` under ``dtype`` vs an fp32 step."""
        ref, *_ = self.train_steps(None, 1)
        # fp16's GradScaler may skip the first steps while it lowers the loss scale
        steps = 5 if dtype == 'float16' else 1
        history, changed, trainable, finite, scaler, seconds = self.train_steps(dtype, steps)
        rel = abs(history[0]['loss'] - ref[0]['loss']) / max(abs(ref[0]['loss']), 1e-12)
        figures = (f"loss {history[0]['loss']:.4f} vs fp32 {ref[0]['loss']:.4f} (rel diff "
                   f'{rel:.1e} <= {LOSS_RTOL[dtype]:.0e}), {changed}/{trainable} trainable '
                   f'tensors updated in {steps} step(s), {seconds:.2f} s/step')
        scale_ok = True
        if scaler is not None:
            scale = float(scaler.get_scale())
            scale_ok = 0 < scale < float('inf')
            figures += f', {type(scaler).__name__} scale {scale:g}'
        else:
            figures += ', CPU autocast' if self.device == 'cpu' else ''
        ok = (finite and changed > 0 and rel <= LOSS_RTOL[dtype] and scale_ok
              and all(all(map(lambda v: v == v and abs(v) < float('inf'), h.values()))
                      for h in history))
        return ok, figures

    def check_dist_test(self):
        """tools/dist_test.sh with 2 processes vs tools/test.py, on a synthetic VOC20."""
        gpus = torch.cuda.device_count() if self.device == 'cuda' else 0
        if self.device == 'cuda' and gpus < 2:
            raise Skip(f'{gpus} GPU: NCCL needs one GPU per process (2 processes need 2 GPUs); '
                       'the gloo path runs with --device cpu')
        if not osp.isfile(osp.join(REPO, 'tools', 'dist_test.sh')):
            raise Skip(f'needs the tools/ folder of a clone of the repository (not in {REPO})')
        root = osp.join(self.workdir, 'data', 'VOCdevkit', 'VOC2012')
        if not osp.isdir(root):
            make_voc(root)
        arch, ckpt = self.clip_files
        options = ['--cfg-options', f'model.backbone.model_name={arch}',
                   f'model.backbone.pretrained={ckpt}', f'test_dataloader.dataset.data_root={root}',
                   'test_dataloader.num_workers=0']
        env = dict(os.environ, PYTHONUNBUFFERED='1', PYTHON=sys.executable,
                   PYTHONPATH=os.pathsep.join([REPO] + [p for p in [os.environ.get('PYTHONPATH')]
                                                        if p]),
                   PORT=str(29500 + os.getpid() % 1000), OMP_NUM_THREADS='1')
        if self.device == 'cpu':
            env['CUDA_VISIBLE_DEVICES'] = ''  # gloo on the CPU even where GPUs exist
        config = 'configs/cfg_voc20.py'
        runs = {}
        for procs, cmd in ((1, [sys.executable, 'tools/test.py', config]),
                           (2, ['bash', 'tools/dist_test.sh', config, '2'])):
            proc = subprocess.run(cmd + ['--work-dir', osp.join(self.workdir, f'dist{procs}')]
                                  + options, cwd=REPO, env=env, capture_output=True, text=True)
            out = proc.stdout + proc.stderr
            found = re.findall(r'aAcc: ([\d.]+)\s+mIoU: ([\d.]+)\s+mAcc: ([\d.]+)', out)
            if proc.returncode != 0 or not found:
                self.log(out[-5000:])
                return False, f'{procs}-process run failed (exit {proc.returncode})'
            runs[procs] = (tuple(float(v) for v in found[-1]), out)
        (one, _), (two, out2) = runs[1], runs[2]
        backend = 'nccl' if self.device == 'cuda' else 'gloo'
        distributed = 'Distributed training: True' in out2 and 'Iter(test) [2/2]' in out2
        return (one == two and distributed,
                f'{backend}: 2 processes aAcc/mIoU/mAcc {two} vs 1 process {one}')

    def check_benchmark_inference(self):
        rows = benchmark(devices=[self.device], repeats=1)
        self.log(format_table(rows))
        ok = all(r['ms_per_image'] > 0
                 and r['labels_changed_pct'] <= REAL_SIZE_MAX_LABELS_CHANGED_PCT
                 and r['max_abs_diff_vs_reference'] <= LOGIT_TOL.get(r['precision'], 1e-4)
                 for r in rows)
        speed = ', '.join(f"{r['mode']} {r['precision']} {r['ms_per_image']:.0f} ms "
                          f"(vs reference: max abs diff {r['max_abs_diff_vs_reference']:.1e}, "
                          f"{r['labels_changed_pct']}% labels differ)" for r in rows[1:])
        return ok, (f"448x608, 15 windows, reference loop {rows[0]['ms_per_image']:.0f} ms; "
                    f'{speed}')

    def check_benchmark_train(self):
        rows = benchmark_train(devices=[self.device], batch_size=1, steps=1)
        self.log(format_table(rows))
        row = rows[0]
        return (row['s_per_step'] > 0,
                f"DINOv2-B, 560 px, batch 1, {row['precision']}: {row['s_per_step']} s/step, "
                f"peak {row['peak_mem_mib']:.0f} MiB")


def format_results(results: List[CheckResult]) -> str:
    """Markdown table: check | result | figures."""
    rows = [('check', 'result', 'figures')] + [
        (r.name, r.status, f'{r.figures} [{r.seconds:.1f} s]' if r.seconds else r.figures)
        for r in results]
    w0, w1 = (max(len(row[i]) for row in rows) for i in range(2))
    lines = [f'| {a.ljust(w0)} | {b.ljust(w1)} | {c} |' for a, b, c in rows]
    lines.insert(1, f"|{'-' * (w0 + 2)}|{'-' * (w1 + 2)}|---|")
    return '\n'.join(lines)


def describe_device(device: str) -> str:
    if device == 'cuda':
        return (f'{torch.cuda.get_device_name()} (CUDA {torch.version.cuda}), '
                f'torch {torch.__version__}, {torch.cuda.device_count()} GPU(s)')
    fast, why = cpu_amp_is_fast(torch.bfloat16)
    measured = f', measured {measured_amp_speedup(torch.bfloat16):.2f}x fp32' if fast else ''
    return (f'CPU ({os.cpu_count()} cores, torch {torch.__version__}, '
            f"bf16 instructions {'yes' if fast else 'no'}: {why}{measured})")


def selfcheck(device: Optional[str] = None, real_size: bool = True,
              workdir: Optional[str] = None, log: Callable[[str], None] = print):
    """Run every check; returns ``(results, table)``."""
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    check = SelfCheck(device, workdir, log)
    results = check.run_all(real_size)
    return results, f'self-check on {describe_device(device)}\n' + format_results(results)
