"""ZeroShotSegmentor: training-free open-vocabulary segmentation with dense CLIP features.

An image's path through :meth:`ZeroShotSegmentor.predict`:

1. the data preprocessor normalizes it with CLIP's mean / std (RGB);
2. ``slide`` mode cuts it into windows (``slide_crop``, ``slide_stride``),
   fits each to the patch grid (``patch_fit``: padded to a multiple of the
   patch size, or of lcm(CLIP patch, VFM patch) with a proxy VFM) and runs
   them through the backbone in batches of ``window_batch_size``; ``whole``
   mode runs the image at once;
3. the text classifier turns the content features into cosine logits per
   query (class name or synonym), upsampled bilinearly to the window size;
   overlapping windows are averaged, then resized to the original image size;
4. ``'logits'``-stage post-processing steps (PAMR) on these raw logits;
5. logits x ``logit_scale`` -> softmax over queries -> max over the synonyms
   of each class; ``'probs'``-stage steps (SCLIP's area_thd);
6. argmax; pixels whose best probability is below ``prob_thd`` become class 0
   (the background).

Steps 3 (its last resize) to 6 run a few queries at a time
(:mod:`.chunked_labels`), so a large photo never holds all queries at full
size; ``keep_seg_logits=True`` also returns the full (C, H, W) probabilities.

The arithmetic follows ClearCLIP's / SCLIP's ``forward_slide`` /
``postprocess_result``.
"""
import contextlib
from typing import Callable, List, Optional

import torch
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ...clip.constants import CLIP_MEAN_255, CLIP_STD_255
from ...registry import PATCH_FITS
from ..builder import build_backbone_and_text
from ..utils.cpu_amp import auto_cpu_amp_dtype, warn_if_slow_cpu_amp
from ..utils.cpu_fast import PackedWeights, cpu_fast_path
from .chunked_labels import (
    CACHE_BYTES,
    Logits,
    WindowLogits,
    as_logits,
    chunk_size_for,
    labels_in_chunks,
    upsample,
)
from .memory import ensure_fits
from .postprocess import build_postprocess
from .sliding_window import window_boxes

AMP_DTYPES = {'auto': 'auto', 'float16': torch.float16, 'fp16': torch.float16,
              'bfloat16': torch.bfloat16, 'bf16': torch.bfloat16, None: None}


def original_size(img: torch.Tensor, meta: dict):
    """(H, W) an image's predictions are made at: its ``ori_shape``."""
    return tuple(meta.get('ori_shape', meta.get('img_shape', img.shape[-2:]))[:2])


@MODELS.register_module()
class ZeroShotSegmentor(BaseSegmentor):
    """Backbone (:class:`DenseCLIPViT`) + text classifier, no trainable head.

    Args:
        backbone: config of the dense CLIP backbone.
        text_classifier: config of :class:`ZeroShotTextClassifier`; its
            ``model_name`` / ``pretrained`` / ``quick_gelu`` default to the
            backbone's, so weights are named once (and the CLIP built once,
            :func:`declip_mmseg.models.builder.build_backbone_and_text`).
        logit_scale: factor on cosine logits before the softmax.
        prob_thd: minimum class probability; lower pixels become class 0.
        inference_mode: ``'slide'`` or ``'whole'``.
        slide_crop, slide_stride: window size and step in pixels.
        window_batch_size: windows per backbone call (0: all at once).
        amp_dtype: autocast dtype on CUDA (``'float16'``, ``'bfloat16'`` or
            None for fp32).
        cpu_amp_dtype: autocast dtype on the CPU: None (default) keeps fp32, the papers'
            numbers; ``'auto'`` (the demo configs) is bf16 where the CPU has native bf16
            (AMX or AVX512-BF16) and bf16 products measured at start-up run at least 1.2x
            faster than fp32 (not on Intel without AMX), fp32 elsewhere (logged once).
            ``'bfloat16'`` runs the backbone's matrix products about 4x faster on CPUs
            with fast bf16 (AMX, AMD Zen 4+), at bf16 rounding; slower on CPUs without, or
            with AVX512-BF16 but no AMX (a warning says so, see
            :mod:`declip_mmseg.models.utils.cpu_amp`).
        cpu_fast_path: on the CPU, run the towers' linears through oneDNN with weights
            packed once per model and attention through fused kernels
            (:mod:`declip_mmseg.models.utils.cpu_fast`); False: torch's eager ops. No
            effect on CUDA.
        postprocess: step configs, run in order (see
            :mod:`declip_mmseg.models.segmentors.postprocess`), e.g.
            ``[dict(type='PAMR', num_iter=10, dilations=(8, 16))]``.
        patch_fit: how an input whose sides are not multiples of the patch size
            meets the patch grid (:mod:`.patch_fit`): ``'pad'`` (ClearCLIP,
            ProxyCLIP, DeCLIP), ``'floor'`` (SCLIP, NACLIP), ``'corner'`` (MaskCLIP).
        keep_seg_logits: also return the (C, H, W) class probabilities at the
            original size as ``seg_logits`` (C x H x W float32: 14 GB for 150
            classes on a 24-megapixel photo); by default only the labels are made.
        postprocess_memory_mb: memory for the full-size post-processing
            temporaries; sets how many queries are upsampled at a time.
        keep_network_probs: also return the (C, h, w) class probabilities at the
            network's resolution (before the resize to the original size and before
            ``'logits'``-stage steps such as PAMR) as ``network_probs``: small, for the web
            page's heat maps; the labels are made as without it.

    ``progress``: an optional ``callback(windows_done, windows_total)`` called after each
    group of windows (the demo and the web page set it; None otherwise).
    """

    def __init__(self, backbone: dict, text_classifier: dict, data_preprocessor: Optional[dict] = None,
                 logit_scale: float = 50.0, prob_thd: float = 0.0, inference_mode: str = 'slide',
                 slide_crop: int = 448, slide_stride: int = 224, window_batch_size: int = 16,
                 amp_dtype: Optional[str] = 'float16', cpu_amp_dtype: Optional[str] = None,
                 postprocess: Optional[List[dict]] = None, patch_fit: str = 'pad',
                 keep_seg_logits: bool = False, postprocess_memory_mb: int = 512,
                 keep_network_probs: bool = False, cpu_fast_path: bool = True, init_cfg=None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='mmseg.SegDataPreProcessor', mean=CLIP_MEAN_255,
                                     std=CLIP_STD_255, bgr_to_rgb=True)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if inference_mode not in ('slide', 'whole'):
            raise ValueError(f"inference_mode must be 'slide' or 'whole', got {inference_mode!r}")
        if patch_fit not in PATCH_FITS:
            raise ValueError(f'patch_fit must be one of {tuple(PATCH_FITS)}, got {patch_fit!r}')
        for name, value in (('amp_dtype', amp_dtype), ('cpu_amp_dtype', cpu_amp_dtype)):
            if value not in AMP_DTYPES or (name == 'amp_dtype' and value == 'auto'):
                raise ValueError(f'{name} must be one of {list(AMP_DTYPES)}, got {value!r}')
        self.backbone, self.text_classifier = build_backbone_and_text(backbone, text_classifier)
        self.logit_scale = float(logit_scale)
        self.prob_thd = float(prob_thd)
        self.inference_mode = inference_mode
        self.slide_crop = int(slide_crop)
        self.slide_stride = int(slide_stride)
        self.window_batch_size = int(window_batch_size)
        self.amp_dtype = AMP_DTYPES[amp_dtype]
        self.cpu_amp_dtype = AMP_DTYPES[cpu_amp_dtype]
        self.patch_fit = patch_fit
        self.postprocess = build_postprocess(postprocess)
        self.keep_seg_logits = bool(keep_seg_logits)
        self.postprocess_memory_mb = int(postprocess_memory_mb)
        self.keep_network_probs = bool(keep_network_probs)
        self.progress: Optional[Callable[[int, int], None]] = None
        self.cpu_fast_path = bool(cpu_fast_path)
        self._packed = PackedWeights()  # oneDNN copies of the weights (not in the state dict)
        if patch_fit != 'pad' and getattr(self.backbone, 'proxy', None) is not None:
            raise ValueError("proxy attention pads windows to lcm(CLIP patch, VFM patch) as "
                             "ProxyCLIP does: use patch_fit='pad'")

    @property
    def num_classes(self) -> int:
        return self.text_classifier.num_classes

    # -- features ----------------------------------------------------------
    def _autocast(self, device: torch.device):
        """Autocast (``amp_dtype`` / ``cpu_amp_dtype``) and, on the CPU, the fast path."""
        stack = contextlib.ExitStack()
        dtype = self.amp_dtype if device.type == 'cuda' else self.cpu_amp_dtype
        if device.type == 'cpu':
            if dtype == 'auto':
                dtype = auto_cpu_amp_dtype()
            if self.cpu_fast_path:
                stack.enter_context(cpu_fast_path(self._packed))
            warn_if_slow_cpu_amp(dtype)
        if dtype is not None:
            stack.enter_context(torch.autocast(device.type, dtype=dtype))
        return stack

    def extract_feat(self, inputs: torch.Tensor):
        """(B, 3, H, W) -> backbone output ``(content, context)``."""
        with self._autocast(inputs.device):
            return self.backbone(inputs)

    def query_grid_logits(self, inputs: torch.Tensor):
        """Cosine logits of every query at the patch grid, (B, 3, H, W) -> (B, Q, h, w), and the
        patch fit's ``restore(logits, grid_if_unpadded)`` back to the input size (H, W)."""
        multiple = getattr(self.backbone, 'pad_multiple', self.backbone.patch_size)
        fit = PATCH_FITS[self.patch_fit]
        fitted, restore = fit(inputs, multiple)
        content, _ = self.extract_feat(fitted)
        return self.text_classifier(content.float()), restore

    def query_logits(self, inputs: torch.Tensor, grid_if_unpadded: bool = False) -> torch.Tensor:
        """Cosine logits of every query, (B, 3, H, W) -> (B, Q, H, W).

        Fits the input to the patch grid as ``patch_fit`` says (:data:`PATCH_FITS`), scores
        the patch features and brings the logits back to the input size (H, W).
        ``grid_if_unpadded``: with ``'pad'`` and no padding needed, return the patch-grid
        logits (B, Q, H/p, W/p) instead, for ClearCLIP's whole-image rule (grid straight to
        the original size).
        """
        logits, restore = self.query_grid_logits(inputs)
        return restore(logits, grid_if_unpadded)

    def slide_windows(self, img: torch.Tensor) -> WindowLogits:
        """The windows' query logits of one image (1, 3, H, W), each kept at its patch grid."""
        H, W = img.shape[-2:]
        boxes = window_boxes(H, W, self.slide_crop, self.slide_stride)
        chunk = self.window_batch_size if self.window_batch_size > 0 else len(boxes)
        windows = WindowLogits((H, W), img.device)
        for start in range(0, len(boxes), chunk):
            group = boxes[start:start + chunk]
            crops = torch.cat([img[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in group])
            grids, restore = self.query_grid_logits(crops)
            for box, grid in zip(group, grids):
                windows.add(box, grid, restore)
            if self.progress is not None:
                self.progress(start + len(group), len(boxes))
        return windows

    def slide_logits(self, img: torch.Tensor) -> torch.Tensor:
        """Window-averaged query logits of one image, (1, 3, H, W) -> (1, Q, H, W)."""
        return self.slide_windows(img).dense()[None]

    def network_logits(self, img: torch.Tensor, meta: dict) -> torch.Tensor:
        """Query logits of one image before the resize to its original size.

        (3, H, W) preprocessed image (with batch padding) -> (Q, h, w); the final
        step to ``meta['ori_shape']`` is one bilinear resize (:func:`upsample`).
        """
        return as_logits(self._network_logits(img, meta)).dense()

    def _network_logits(self, img: torch.Tensor, meta: dict) -> Logits:
        h, w = meta.get('img_shape', img.shape[-2:])[:2]
        img = img[None, :, :h, :w]  # drop the preprocessor's batch padding
        if self.inference_mode == 'slide':
            return self.slide_windows(img)
        # ClearCLIP's whole-image rule: the patch grid straight to the original size.
        return self.query_logits(img, grid_if_unpadded=True)[0]

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """Query logits at each image's original size; (B, 3, H, W) -> list-like (B, Q, h, w).

        Images of one batch must share their original size (mmseg's test
        batches usually hold one image).
        """
        outs = [upsample(self.network_logits(img, meta), original_size(img, meta))[None]
                for img, meta in zip(inputs, batch_img_metas)]
        return torch.cat(outs) if len({o.shape for o in outs}) == 1 else outs

    # -- mmseg API ---------------------------------------------------------
    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: Optional[List[SegDataSample]] = None):
        """Segment a batch; returns SegDataSamples with ``pred_sem_seg`` ((1, H, W)) at
        the original image size, ``seg_logits`` (class probabilities, (C, H, W))
        when ``keep_seg_logits`` is set, ``network_probs`` ((C, h, w)) when
        ``keep_network_probs`` is set."""
        if data_samples is None:
            shape = tuple(inputs.shape[-2:])
            data_samples = [SegDataSample(metainfo=dict(ori_shape=shape, img_shape=shape))
                            for _ in range(inputs.shape[0])]
        for img, sample in zip(inputs, data_samples):
            meta = sample.metainfo
            h, w = meta.get('img_shape', img.shape[-2:])[:2]
            network_input = img[None, :, :h, :w]
            size = original_size(img, meta)
            logits = as_logits(self._network_logits(img, meta))
            if self.keep_network_probs:  # the web page's heat maps, at the network's resolution
                sample.set_data({'network_probs': PixelData(data=self.classify(logits.dense())[0])})
            if self.keep_seg_logits:
                ensure_fits(4 * 3 * logits.num_queries * size[0] * size[1], logits.device,
                            f'keep_seg_logits=True for a {size[0]}x{size[1]} image with '
                            f'{logits.num_queries} queries',
                            'leave model.keep_seg_logits=False (labels only)')
                full = self.refine_logits(upsample(logits.dense(), size)[None], network_input)[0]
                probs, labels = self.classify(full)
                sample.set_data({'seg_logits': PixelData(data=probs)})
            else:
                labels = self.labels(logits, size, network_input)
            sample.set_data({'pred_sem_seg': PixelData(data=labels)})
        return data_samples

    def labels(self, logits: Logits, size, image: torch.Tensor) -> torch.Tensor:
        """(Q, h, w) network-resolution logits (or :class:`WindowLogits`) -> (1, H, W) labels at
        ``size``, a few queries at a time; the same labels as :meth:`refine_logits` +
        :meth:`classify` on the upsampled logits. ``image``: the network input (1, 3, h', w')."""
        H, W = int(size[0]), int(size[1])
        logits = as_logits(logits)
        budget = min(self.postprocess_memory_mb * 2 ** 20, CACHE_BYTES)
        # per query and pixel: the chunk and a masked copy (float32); small enough for the cache
        chunk = chunk_size_for(logits.num_queries, (H, W), budget, bytes_per_query_pixel=8)
        ensure_fits(40 * H * W + 12 * chunk * H * W, logits.device,
                    f'labelling a {H}x{W} image', 'resize the image before segmenting it')

        def refine(z, queries):
            return self.refine_logits(z[None], image)[0]

        refine = refine if any(step.stage == 'logits' for step in self.postprocess) else None
        run = dict(size=(H, W), query_to_class=self.text_classifier.query_to_class,
                   logit_scale=self.logit_scale, chunk=chunk, refine=refine)
        excluded = None
        probs_steps = [step for step in self.postprocess if step.stage == 'probs']
        if probs_steps:
            # 'probs' steps drop whole classes, decided on the plain argmax (a first pass)
            argmax, _ = labels_in_chunks(logits, prob_thd=0.0, with_prob=False, **run)
            excluded = torch.zeros(self.num_classes, dtype=torch.bool, device=logits.device)
            for step in probs_steps:
                excluded |= step.dropped_classes(argmax[0], self.num_classes)
        labels, _ = labels_in_chunks(logits, prob_thd=self.prob_thd, excluded_classes=excluded,
                                     with_prob=False, **run)
        return labels

    def refine_logits(self, logits: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """``'logits'``-stage steps on raw query logits (1, Q, H, W) at the original size;
        ``image`` is the network input (1, 3, h, w)."""
        for step in self.postprocess:
            if step.stage == 'logits':
                logits = step(logits, image)
        return logits

    def classify(self, query_logits: torch.Tensor):
        """(Q, H, W) cosine logits -> class probabilities (C, H, W) and labels (1, H, W)."""
        probs = (query_logits * self.logit_scale).softmax(dim=0)
        probs = self.text_classifier.pool_synonyms(probs)
        for step in self.postprocess:
            if step.stage == 'probs':
                probs = step(probs)
        best, labels = probs.max(dim=0, keepdim=True)
        labels[best < self.prob_thd] = 0
        return probs, labels

    def _forward(self, inputs: torch.Tensor, data_samples=None):
        """Tensor mode: query logits at the input size."""
        shape = tuple(inputs.shape[-2:])
        metas = [dict(img_shape=shape, ori_shape=shape)] * inputs.shape[0]
        return self.encode_decode(inputs, metas)

    def loss(self, inputs, data_samples):
        raise RuntimeError(
            'ZeroShotSegmentor is training-free and has no loss. To fine-tune the CLIP '
            'backbone, run the DeCLIP distillation stage (tools/train.py with '
            'configs/declip_distill_coco.py) and load its exported checkpoint here.')
