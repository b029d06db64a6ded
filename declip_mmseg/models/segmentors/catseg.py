"""CATSeg: CAT-Seg (CVPR'24) on this project's dense CLIP towers, as DeCLIP's CAT-Seg branch runs it.

One forward (catseg.md A.1), N views of the normalised image:

1. resize to ``clip_resolution`` (384 B/16, 336 L/14; a 24 x 24 grid), bilinear;
2. dense CLIP features (:mod:`.catseg_features`, ``dense_path``) and the outputs of the visual
   blocks ``guidance_layers``, upsampled by ``upsample1`` (x2) / ``upsample2`` (x4);
3. class embeddings (T, P, E) from :class:`~declip_mmseg.models.heads.CATSegTextEncoder`;
4. :class:`~declip_mmseg.models.heads.CATSegAggregator` -> logits (N, T, 96, 96).

Inference (``inference_mode``; probabilities are the sigmoid of the logits, argmax = label):

``'slide'``  (``eval.sh``) the image resized to ``slide_size`` (640 x 640, aspect not kept),
             the windows of ``nn.Unfold(slide_crop=384, stride=slide_stride=256)`` plus the whole
             image at ``slide_crop`` in one batch; window maps averaged where they overlap,
             (local + global) / 2, then resized to the original size.
``'whole'``  padded bottom / right to a multiple of ``size_divisor`` (32) with the mean colour,
             resized to ``clip_resolution``; the 96 x 96 map is resized to the padded size and
             the padding cut off before the resize to the original size. The reference crops the
             96 x 96 map as if it were at input resolution, so its padded strip is stretched into
             the output (catseg.md quirk 2): fixed here.

Training (``mode='loss'``): logits resized to the label size, ``loss_sem_seg`` = BCE with logits
against one-hot targets, mean over all pixels x classes; ignored pixels are negatives of every
class as in the reference (quirk 1), or left out with ``ignore_as_negative=False``.
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ...clip.constants import CLIP_MEAN_255, CLIP_STD_255
from ..backbones.eva_vit import EVAViTTower
from ..backbones.openclip_vit import OpenCLIPViTTower
from ..builder import build_dense_backbone
from ..heads.catseg_text import catseg_text_encoder
from .catseg_checkpoint import load_catseg_checkpoint
from .catseg_features import DENSE_PATHS, dense_and_guidance, visual_blocks
from .zero_shot_segmentor import original_size


def _eva_attention(name: str) -> bool:
    """DeCLIP branch's trainable set: visual q / v projection weights, text packed q/k/v."""
    return (name.startswith('backbone.') and name.endswith(('attn.q_proj.weight', 'attn.v_proj.weight'))) \
        or (name.startswith('text_classifier.') and name.endswith('attn.in_proj_weight'))


def _openai_attention(name: str) -> bool:
    """CAT-Seg's trainable set: q and v weights of every visual and text block (the k rows of
    the packed weight are kept frozen by a gradient mask, :func:`_mask_k_rows`)."""
    return name.endswith('attn.in_proj_weight')


# clip_finetune='attention': the rule of each tower family
ATTENTION_RULES = {EVAViTTower: _eva_attention, OpenCLIPViTTower: _openai_attention}


def _mask_k_rows(param: nn.Parameter) -> None:
    D = param.shape[1]
    mask = torch.ones_like(param)
    mask[D:2 * D] = 0
    param.register_hook(lambda grad: grad * mask.to(grad.device, grad.dtype))


@MODELS.register_module()
class CATSeg(BaseSegmentor):
    """CAT-Seg segmentor.

    Args:
        backbone: :class:`DenseCLIPViT` config (``model_name``, ``pretrained`` for training,
            ``attn_mode`` / ``attn_scale`` of the decoupled path).
        text_classifier: :class:`CATSegTextEncoder` config (``class_names``, ``templates``,
            ``synonyms``); its CLIP is the backbone's.
        aggregator: :class:`CATSegAggregator` config (``pooling_sizes`` (1, 1) for the slide
            protocol, (2, 2) for training and whole).
        checkpoint: a released CAT-Seg file (:mod:`.catseg_checkpoint`); when set, the
            backbone's ``pretrained`` / ``checkpoint`` are not read (random init, then this file).
        clip_resolution: CLIP input size (384 B/16, 336 L/14).
        guidance_layers: visual blocks whose outputs guide the decoder ([3, 7] B, [7, 15] L).
        upsample_dims: channels of ``upsample1`` (x2) and ``upsample2`` (x4).
        dense_path: ``'decoupled'`` (EVA02 / DeCLIP) or ``'value_cls'`` (CAT-Seg's OpenAI path).
        dense_normalize: L2-normalise the dense features (DeCLIP's ``encode_dense`` does,
            CAT-Seg's OpenAI path does not).
        inference_mode: ``'slide'`` or ``'whole'`` (module docstring).
        clip_finetune: ``'attention'`` (the reference's set), ``'none'`` or ``'full'``.
        ignore_index / ignore_as_negative: label of unlabelled pixels and the loss rule.
        keep_seg_logits: also return the class probabilities (T, H, W) as ``seg_logits``.
        merge_labels_from: predicted labels >= this become this label (VOC21: the 39 extra
            Context classes after the 20 VOC ones are the background, 20).
    """

    def __init__(self, backbone: dict, text_classifier: dict, aggregator: dict,
                 checkpoint: Optional[str] = None, data_preprocessor: Optional[dict] = None,
                 clip_resolution: Sequence[int] = (384, 384), guidance_layers: Sequence[int] = (3, 7),
                 upsample_dims: Sequence[int] = (256, 128), dense_path: str = 'decoupled',
                 dense_normalize: bool = True, inference_mode: str = 'slide',
                 slide_size: Sequence[int] = (640, 640), slide_crop: int = 384,
                 slide_stride: int = 256, size_divisor: int = 32, clip_finetune: str = 'attention',
                 ignore_index: int = 255, ignore_as_negative: bool = True,
                 keep_seg_logits: bool = False, merge_labels_from: Optional[int] = None,
                 init_cfg=None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='mmseg.SegDataPreProcessor', mean=CLIP_MEAN_255,
                                     std=CLIP_STD_255, bgr_to_rgb=True, pad_val=0, seg_pad_val=255,
                                     size_divisor=1)  # training batches: crops padded to 384
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if inference_mode not in ('slide', 'whole'):
            raise ValueError(f"inference_mode must be 'slide' or 'whole', got {inference_mode!r}")
        if clip_finetune not in ('attention', 'none', 'full'):
            raise ValueError(f"clip_finetune must be 'attention', 'none' or 'full', got {clip_finetune!r}")
        backbone = dict(backbone)
        if checkpoint:
            for key in ('pretrained', 'checkpoint'):
                if backbone.pop(key, None):
                    print_log(f'model.checkpoint is set: backbone.{key} is not read', logger='current')
        self.backbone, text_clip = build_dense_backbone(backbone)
        if text_clip is None:
            raise TypeError('CATSeg needs a DenseCLIPViT / DeCLIPViT backbone with a model_name')
        self.text_classifier = catseg_text_encoder(text_classifier, backbone['model_name'], text_clip)
        self.aggregator = MODELS.build(dict(dict(type='CATSegAggregator'), **aggregator))
        width = self.backbone.tower.width
        self.upsample1 = nn.ConvTranspose2d(width, upsample_dims[0], kernel_size=2, stride=2)
        self.upsample2 = nn.ConvTranspose2d(width, upsample_dims[1], kernel_size=4, stride=4)
        n_blocks = len(visual_blocks(self.backbone.tower))
        if len(guidance_layers) != 2 or not all(0 <= i < n_blocks - 1 for i in guidance_layers):
            raise ValueError(f'guidance_layers must be two block indices below {n_blocks - 1} (the '
                             f'last block runs the dense path), got {list(guidance_layers)}')
        if dense_path not in DENSE_PATHS:
            raise ValueError(f'dense_path must be one of {sorted(DENSE_PATHS)}, got {dense_path!r}')
        for side in slide_size:
            if side < slide_crop or (side - slide_crop) % slide_stride:
                raise ValueError(f'slide_size {tuple(slide_size)} must be slide_crop ({slide_crop}) '
                                 f'plus a multiple of slide_stride ({slide_stride})')
        self.clip_resolution = tuple(clip_resolution)
        self.guidance_layers = tuple(guidance_layers)
        self.dense_path = dense_path
        self.dense_normalize = bool(dense_normalize)
        self.inference_mode = inference_mode
        self.slide_size = tuple(slide_size)
        self.slide_crop = int(slide_crop)
        self.slide_stride = int(slide_stride)
        self.size_divisor = int(size_divisor)
        self.ignore_index = int(ignore_index)
        self.ignore_as_negative = bool(ignore_as_negative)
        self.keep_seg_logits = bool(keep_seg_logits)
        self.merge_labels_from = merge_labels_from
        self.progress = None  # set by the demo / web page: called once, all views in one batch
        self.checkpoint = checkpoint
        if checkpoint:
            load_catseg_checkpoint(self, checkpoint)
        self._set_trainable(clip_finetune)

    def init_weights(self):
        """CLIP weights come from ``pretrained`` / ``checkpoint``; only a model without
        ``checkpoint`` initialises its aggregator and upsamplers (PyTorch defaults, as the
        reference)."""

    def _set_trainable(self, rule: str) -> None:
        clip_params = [(n, p) for n, p in self.named_parameters()
                       if n.startswith(('backbone.', 'text_classifier.'))]
        if rule == 'full':
            return
        attention = ATTENTION_RULES[type(self.backbone.tower)]
        for name, param in clip_params:
            param.requires_grad_(rule == 'attention' and attention(name))
            if param.requires_grad and attention is _openai_attention:
                _mask_k_rows(param)

    def views(self, height: int, width: int) -> int:
        """Network views per image (any size): windows + the global view, or 1."""
        if self.inference_mode != 'slide':
            return 1
        rows, cols = ((side - self.slide_crop) // self.slide_stride + 1 for side in self.slide_size)
        return rows * cols + 1

    @property
    def num_classes(self) -> int:
        return self.text_classifier.num_classes

    # -- network -----------------------------------------------------------------------------
    def network(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised views (N, 3, h, w) -> logits (N, T, 4g, 4g) for the g x g CLIP grid."""
        clip_in = F.interpolate(images, size=self.clip_resolution, mode='bilinear', align_corners=False)
        feats, (g1, g2) = dense_and_guidance(self.backbone, clip_in, self.dense_path,
                                             self.guidance_layers, self.dense_normalize)
        guidance = [feats, self.upsample1(g1), self.upsample2(g2)]
        text = self.text_classifier()
        text = text[None].expand(images.shape[0], *text.shape).to(feats.dtype)
        return self.aggregator(feats, text, guidance)

    def slide_probs(self, img: torch.Tensor) -> torch.Tensor:
        """(1, 3, h, w) -> class probabilities (1, T, *slide_size) of the slide protocol.

        Windows at ``nn.Unfold``'s offsets (0, stride, ... while the window fits), row-major."""
        size, k, s = self.slide_size, self.slide_crop, self.slide_stride
        image = F.interpolate(img, size=size, mode='bilinear', align_corners=False)
        boxes = [(y, x) for y in range(0, size[0] - k + 1, s) for x in range(0, size[1] - k + 1, s)]
        crops = [image[:, :, y:y + k, x:x + k] for y, x in boxes]
        global_view = F.interpolate(img, size=(k, k), mode='bilinear', align_corners=False)
        logits = self.network(torch.cat(crops + [global_view]))
        probs = F.interpolate(logits, size=(k, k), mode='bilinear', align_corners=False).sigmoid()
        local = probs.new_zeros((1, probs.shape[1], *size))
        count = probs.new_zeros((1, 1, *size))
        for (y, x), window in zip(boxes, probs[:-1]):
            local[0, :, y:y + k, x:x + k] += window
            count[0, :, y:y + k, x:x + k] += 1
        glob = F.interpolate(probs[-1:], size=size, mode='bilinear', align_corners=False)
        return (local / count + glob) / 2

    def whole_probs(self, img: torch.Tensor) -> torch.Tensor:
        """(1, 3, h, w) -> probabilities (1, T, h, w) of the one-view protocol (padding removed)."""
        h, w = img.shape[-2:]
        d = self.size_divisor
        H, W = -(-h // d) * d, -(-w // d) * d
        padded = F.pad(img, (0, W - w, 0, H - h), value=0.0)
        probs = self.network(padded).sigmoid()
        probs = F.interpolate(probs, size=(H, W), mode='bilinear', align_corners=False)
        return probs[:, :, :h, :w]

    def probabilities(self, img: torch.Tensor, meta: dict) -> torch.Tensor:
        """Class probabilities (T, H, W) of one preprocessed image at its original size."""
        h, w = meta.get('img_shape', img.shape[-2:])[:2]
        img = img[None, :, :h, :w]
        probs = self.slide_probs(img) if self.inference_mode == 'slide' else self.whole_probs(img)
        if self.progress is not None:
            views = self.views(h, w)
            self.progress(views, views)
        size = original_size(img[0], meta)
        return F.interpolate(probs, size=size, mode='bilinear', align_corners=False)[0]

    # -- mmseg API ---------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: Optional[List[SegDataSample]] = None):
        """``pred_sem_seg`` (1, H, W) at the original size; ``seg_logits`` = probabilities
        (T, H, W) when ``keep_seg_logits``."""
        if data_samples is None:
            shape = tuple(inputs.shape[-2:])
            data_samples = [SegDataSample(metainfo=dict(ori_shape=shape, img_shape=shape))
                            for _ in range(inputs.shape[0])]
        for img, sample in zip(inputs, data_samples):
            probs = self.probabilities(img, sample.metainfo)
            labels = probs.argmax(dim=0, keepdim=True)
            if self.merge_labels_from is not None:
                labels = labels.clamp(max=self.merge_labels_from)
            sample.set_data({'pred_sem_seg': PixelData(data=labels)})
            if self.keep_seg_logits:
                sample.set_data({'seg_logits': PixelData(data=probs)})
        return data_samples

    def encode_decode(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """Probabilities (B, T, H, W) at each image's original size (equal sizes)."""
        return torch.stack([self.probabilities(img, meta) for img, meta in zip(inputs, batch_img_metas)])

    def extract_feat(self, inputs: torch.Tensor):
        clip_in = F.interpolate(inputs, size=self.clip_resolution, mode='bilinear', align_corners=False)
        return dense_and_guidance(self.backbone, clip_in, self.dense_path, self.guidance_layers,
                                  self.dense_normalize)

    def _forward(self, inputs: torch.Tensor, data_samples=None) -> torch.Tensor:
        """Tensor mode: logits (B, T, 4g, 4g)."""
        return self.network(inputs)

    def loss(self, inputs: torch.Tensor, data_samples: List[SegDataSample]) -> Dict[str, torch.Tensor]:
        """``loss_sem_seg``: BCE with logits vs one-hot labels at the label size."""
        labels = torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).long()
        logits = self.network(inputs)
        logits = F.interpolate(logits, size=labels.shape[-2:], mode='bilinear', align_corners=False)
        return {'loss_sem_seg': catseg_bce(logits, labels, self.ignore_index, self.ignore_as_negative)}


def catseg_bce(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = 255,
               ignore_as_negative: bool = True) -> torch.Tensor:
    """BCE with logits (B, T, H, W) against one-hot ``labels`` (B, H, W).

    ``ignore_as_negative``: ignored pixels have an all-zero target and count in the mean (the
    reference); False: they are left out of the mean. Labels >= T other than ``ignore_index``
    are an error."""
    T = logits.shape[1]
    valid = labels != ignore_index
    if (labels[valid] >= T).any() or (labels[valid] < 0).any():
        raise ValueError(f'labels outside [0, {T}) other than ignore_index={ignore_index}: the '
                         'class list of the model does not match the dataset')
    target = F.one_hot(torch.where(valid, labels, 0), T).permute(0, 3, 1, 2).to(logits.dtype)
    target = target * valid[:, None].to(logits.dtype)
    if ignore_as_negative:
        return F.binary_cross_entropy_with_logits(logits, target)
    per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction='none')
    weight = valid[:, None].expand_as(per_pixel).to(logits.dtype)
    return (per_pixel * weight).sum() / weight.sum().clamp(min=1)
