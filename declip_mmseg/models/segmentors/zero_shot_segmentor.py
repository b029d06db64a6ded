"""ZeroShotSegmentor: training-free open-vocabulary segmentation with dense CLIP features.

An image's path through :meth:`ZeroShotSegmentor.predict`:

1. the data preprocessor normalizes it with CLIP's mean / std (RGB);
2. ``slide`` mode cuts it into windows (``slide_crop``, ``slide_stride``),
   pads each to a multiple of the patch size and runs them through the
   backbone in batches of ``window_batch_size``; ``whole`` mode runs the
   image at once;
3. the text classifier turns the content features into cosine logits per
   query (class name or synonym), upsampled bilinearly to the window size;
   overlapping windows are averaged, then resized to the original image size;
4. logits x ``logit_scale`` -> softmax over queries -> max over the synonyms
   of each class -> argmax; pixels whose best probability is below
   ``prob_thd`` become class 0 (the background).

The arithmetic follows ClearCLIP's ``forward_slide`` / ``postprocess_result``.
"""
import contextlib
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ..cpu_amp import warn_if_slow_cpu_amp
from .sliding_window import centered_padding, window_boxes

# OpenAI CLIP's normalization on the 0-255 scale (also used for EVA-CLIP).
CLIP_MEAN = [122.771, 116.746, 104.094]
CLIP_STD = [68.501, 66.632, 70.323]
AMP_DTYPES = {'float16': torch.float16, 'fp16': torch.float16,
              'bfloat16': torch.bfloat16, 'bf16': torch.bfloat16, None: None}


@MODELS.register_module()
class ZeroShotSegmentor(BaseSegmentor):
    """Backbone (:class:`DeCLIPViT`) + text classifier, no trainable head.

    Args:
        backbone: config of the dense CLIP backbone.
        text_classifier: config of :class:`ZeroShotTextClassifier`; its
            ``model_name`` / ``pretrained`` / ``quick_gelu`` default to the
            backbone's, so weights are named once.
        logit_scale: factor on cosine logits before the softmax.
        prob_thd: minimum class probability; lower pixels become class 0.
        inference_mode: ``'slide'`` or ``'whole'``.
        slide_crop, slide_stride: window size and step in pixels.
        window_batch_size: windows per backbone call (0: all at once).
        amp_dtype: autocast dtype on CUDA (``'float16'``, ``'bfloat16'`` or
            None for fp32).
        cpu_amp_dtype: autocast dtype on the CPU; None (default) keeps fp32.
            ``'bfloat16'`` runs the backbone's matrix products about 4x faster
            on CPUs with bf16 instructions, at bf16 rounding; slower on CPUs
            without (a warning says so, see :mod:`declip_mmseg.models.cpu_amp`).
    """

    def __init__(self, backbone: dict, text_classifier: dict, data_preprocessor: Optional[dict] = None,
                 logit_scale: float = 50.0, prob_thd: float = 0.0, inference_mode: str = 'slide',
                 slide_crop: int = 448, slide_stride: int = 224, window_batch_size: int = 16,
                 amp_dtype: Optional[str] = 'float16', cpu_amp_dtype: Optional[str] = None,
                 init_cfg=None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='mmseg.SegDataPreProcessor', mean=CLIP_MEAN, std=CLIP_STD,
                                     bgr_to_rgb=True)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if inference_mode not in ('slide', 'whole'):
            raise ValueError(f"inference_mode must be 'slide' or 'whole', got {inference_mode!r}")
        for name, value in (('amp_dtype', amp_dtype), ('cpu_amp_dtype', cpu_amp_dtype)):
            if value not in AMP_DTYPES:
                raise ValueError(f'{name} must be one of {list(AMP_DTYPES)}, got {value!r}')
        text_classifier = dict(text_classifier)
        for key in ('model_name', 'pretrained', 'checkpoint', 'quick_gelu'):
            if key in backbone:
                text_classifier.setdefault(key, backbone[key])
        self.backbone = MODELS.build(backbone)
        self.text_classifier = MODELS.build(text_classifier)
        self.logit_scale = float(logit_scale)
        self.prob_thd = float(prob_thd)
        self.inference_mode = inference_mode
        self.slide_crop = int(slide_crop)
        self.slide_stride = int(slide_stride)
        self.window_batch_size = int(window_batch_size)
        self.amp_dtype = AMP_DTYPES[amp_dtype]
        self.cpu_amp_dtype = AMP_DTYPES[cpu_amp_dtype]

    @property
    def num_classes(self) -> int:
        return self.text_classifier.num_classes

    # -- features ----------------------------------------------------------
    def _autocast(self, device: torch.device):
        dtype = self.amp_dtype if device.type == 'cuda' else self.cpu_amp_dtype
        if dtype is None:
            return contextlib.nullcontext()
        if device.type == 'cpu':
            warn_if_slow_cpu_amp(dtype)
        return torch.autocast(device.type, dtype=dtype)

    def extract_feat(self, inputs: torch.Tensor):
        """(B, 3, H, W) -> backbone output ``(content, context)``."""
        with self._autocast(inputs.device):
            return self.backbone(inputs)

    def query_logits(self, inputs: torch.Tensor, out_size=None) -> torch.Tensor:
        """Cosine logits of every query, (B, 3, H, W) -> (B, Q, H', W').

        Pads to a multiple of the patch size (centered), scores the patch
        features and upsamples bilinearly to the padded size, then removes
        the padding.  ``out_size`` instead resizes straight from the patch
        grid (ClearCLIP's whole-image rule; only valid without padding).
        """
        H, W = inputs.shape[-2:]
        left, right, top, bottom = centered_padding(H, W, self.backbone.patch_size)
        padded = F.pad(inputs, (left, right, top, bottom)) if (left or right or top or bottom) else inputs
        content, _ = self.extract_feat(padded)
        logits = self.text_classifier(content.float())
        if out_size is not None and padded is inputs:
            return F.interpolate(logits, size=out_size, mode='bilinear')
        logits = F.interpolate(logits, size=padded.shape[-2:], mode='bilinear')
        return logits[:, :, top:top + H, left:left + W]

    def slide_logits(self, img: torch.Tensor) -> torch.Tensor:
        """Window-averaged query logits of one image, (1, 3, H, W) -> (1, Q, H, W)."""
        H, W = img.shape[-2:]
        boxes = window_boxes(H, W, self.slide_crop, self.slide_stride)
        chunk = self.window_batch_size if self.window_batch_size > 0 else len(boxes)
        preds = img.new_zeros((1, self.text_classifier.query_embeddings.shape[0], H, W),
                              dtype=torch.float32)
        count = img.new_zeros((1, 1, H, W), dtype=torch.float32)
        for start in range(0, len(boxes), chunk):
            group = boxes[start:start + chunk]
            crops = torch.cat([img[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in group])
            logits = self.query_logits(crops)
            for (y1, y2, x1, x2), window in zip(group, logits):
                preds[0, :, y1:y2, x1:x2] += window
                count[0, :, y1:y2, x1:x2] += 1
        return preds / count

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """Query logits at each image's original size; (B, 3, H, W) -> list-like (B, Q, h, w).

        Images of one batch must share their original size (mmseg's test
        batches usually hold one image).
        """
        outs = []
        for img, meta in zip(inputs, batch_img_metas):
            h, w = meta.get('img_shape', img.shape[-2:])[:2]
            img = img[None, :, :h, :w]  # drop the preprocessor's batch padding
            ori_size = tuple(meta.get('ori_shape', (h, w))[:2])
            if self.inference_mode == 'slide':
                logits = F.interpolate(self.slide_logits(img), size=ori_size, mode='bilinear')
            else:
                logits = self.query_logits(img, out_size=ori_size)
                if logits.shape[-2:] != ori_size:
                    logits = F.interpolate(logits, size=ori_size, mode='bilinear')
            outs.append(logits)
        return torch.cat(outs) if len({o.shape for o in outs}) == 1 else outs

    # -- mmseg API ---------------------------------------------------------
    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: Optional[List[SegDataSample]] = None):
        """Segment a batch; returns SegDataSamples with ``seg_logits`` (class
        probabilities, (C, H, W)) and ``pred_sem_seg`` ((1, H, W)) at the
        original image size."""
        if data_samples is None:
            shape = tuple(inputs.shape[-2:])
            data_samples = [SegDataSample(metainfo=dict(ori_shape=shape, img_shape=shape))
                            for _ in range(inputs.shape[0])]
        metas = [sample.metainfo for sample in data_samples]
        logits = self.encode_decode(inputs, metas)
        for sample, query_logits in zip(data_samples, logits):
            probs, labels = self.classify(query_logits)
            sample.set_data({'seg_logits': PixelData(data=probs),
                             'pred_sem_seg': PixelData(data=labels)})
        return data_samples

    def classify(self, query_logits: torch.Tensor):
        """(Q, H, W) cosine logits -> class probabilities (C, H, W) and labels (1, H, W)."""
        probs = (query_logits * self.logit_scale).softmax(dim=0)
        probs = self.text_classifier.pool_synonyms(probs)
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
