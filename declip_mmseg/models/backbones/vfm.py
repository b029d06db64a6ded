"""Frozen vision foundation models (VFMs): the teachers of DeCLIP's context distillation.

DeCLIP (``src/training/declip.py``, ``get_teacher_context_similarity``) takes one
dense feature map per image from a frozen VFM and distils its patch-to-patch
cosine similarities into CLIP's context features.  Each teacher here returns that
map, computed exactly as DeCLIP does, as ``(B, C, H/p, W/p)``:

``dinov2-B`` / ``dinov2-L``  (torch.hub ``dinov2_vitb14_reg`` / ``dinov2_vitl14_reg``)
    ``get_intermediate_layers(x, reshape=True)[0]``: last block, final norm, class and
    4 register tokens dropped.  Positions are resized as the hub's ``*_reg`` models
    do: bicubic to the grid *size*, ``antialias=True`` (``interpolate_offset=0.0``,
    ``interpolate_antialias=True`` in ``dinov2/hub/backbones.py``).
``dino-B-8`` / ``dino-B-16``  (torch.hub ``dino_vitb8`` / ``dino_vitb16``)
    ``get_intermediate_layers(x)[0][:, 1:]``: last block, final norm, class token
    dropped.  Positions resized bicubically by ``scale_factor=(h + 0.1) / M`` (DINO's
    historical offset), no antialias.
``sam-B`` / ``sam-L``  (``sam_model_registry['vit_b' | 'vit_l']``)
    ``image_encoder(x)``: the 256-channel neck output; the absolute positions
    ``(1, 64, 64, C)`` are resized bicubically (``align_corners=False``) to the grid
    as DeCLIP's modified ``image_encoder.py`` does.

Inputs are ImageNet-normalised (0-1 scale) images whose sides are multiples of
the patch size.  Weights come only from a local file; nothing is downloaded.
"""
import math
import os.path as osp
from functools import partial
from typing import Dict, List, NamedTuple, Tuple

import timm
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...clip.constants import IMAGENET_MEAN_01, IMAGENET_STD_01
from ...clip.sources import check_finite, describe_archive, local_path
from ...registry import VFMS, register_vfm

StateDict = Dict[str, Tensor]


def build_vfm(name: str, weights: str, **arch_overrides) -> 'VisionFoundationModel':
    """Frozen teacher ``name`` with weights read from the local file ``weights``.

    ``arch_overrides`` go to the architecture constructor (e.g. ``depth=2`` builds a
    small model of the same family).
    """
    if name not in VFMS:
        raise ValueError(f"unknown VFM '{name}'; choose one of {sorted(VFMS)}")
    return VFMS[name](weights, **arch_overrides)


# --------------------------------------------------------------------------- modules

class VisionFoundationModel(nn.Module):
    """Frozen image -> dense feature map ``(B, 3, H, W) -> (B, C, H/p, W/p)``."""

    mean = IMAGENET_MEAN_01  # ImageNet statistics, 0-1 pixel scale
    std = IMAGENET_STD_01

    def __init__(self, name: str, patch_size: int):
        super().__init__()
        self.name = name
        self.patch_size = patch_size

    def freeze(self) -> 'VisionFoundationModel':
        """No gradients and eval mode, for good."""
        self.requires_grad_(False)
        return self.train(False)

    def train(self, mode: bool = True) -> 'VisionFoundationModel':
        """Stay in eval mode whatever ``mode`` is: the teacher is frozen."""
        return super().train(False)

    def patch_grid(self, img: Tensor) -> Tuple[int, int]:
        """``(H/p, W/p)`` of an image batch ``(B, 3, H, W)``; sides must be multiples of p."""
        if img.dim() != 4 or img.shape[1] != 3:
            raise ValueError(f'{self.name} expects images (B, 3, H, W), got {tuple(img.shape)}')
        h, w = img.shape[-2:]
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(f'{self.name}: image size {h}x{w} is not a multiple of the '
                             f'patch size {self.patch_size}')
        return h // self.patch_size, w // self.patch_size


class PosInterp(NamedTuple):
    """How DINO-style models resize learned positions (see ``interpolate_patch_pos``)."""
    offset: float
    antialias: bool


DINOV2_REG_POS = PosInterp(offset=0.0, antialias=True)   # hub dinov2_*14_reg
DINO_V1_POS = PosInterp(offset=0.1, antialias=False)     # hub dino_vitb8 / dino_vitb16


def interpolate_patch_pos(patch_pos: Tensor, grid: Tuple[int, int], how: PosInterp) -> Tensor:
    """Learned positions ``(1, M*M, C)`` -> ``(1, h*w, C)`` for an ``h x w`` patch grid.

    The ``interpolate_pos_encoding`` of DINO and DINOv2: bicubic in float32; with a
    non-zero offset the output is asked for by ``scale_factor=((h+off)/M, (w+off)/M)``
    (the scale factor, not the size, sets the sampling positions), otherwise by size.
    The native square grid is returned unchanged.
    """
    _, n, dim = patch_pos.shape
    m = math.isqrt(n)
    if m * m != n:
        raise ValueError(f'position table of {n} patches is not a square grid')
    h, w = grid
    if (h, w) == (m, m):
        return patch_pos
    if how.offset:
        size_arg = {'scale_factor': ((h + how.offset) / m, (w + how.offset) / m)}
    else:
        size_arg = {'size': (h, w)}
    square = patch_pos.float().reshape(1, m, m, dim).permute(0, 3, 1, 2)
    resized = F.interpolate(square, mode='bicubic', antialias=how.antialias, **size_arg)
    assert resized.shape[-2:] == (h, w), (resized.shape, grid)
    return resized.permute(0, 2, 3, 1).reshape(1, h * w, dim).to(patch_pos.dtype)


def resize_grid_pos(pos: Tensor, grid: Tuple[int, int]) -> Tensor:
    """SAM's absolute positions ``(1, M, M, C)`` -> ``(1, h, w, C)``, bicubic, align_corners=False."""
    if tuple(pos.shape[1:3]) == tuple(grid):
        return pos
    resized = F.interpolate(pos.permute(0, 3, 1, 2), size=grid, mode='bicubic',
                            align_corners=False)
    return resized.permute(0, 2, 3, 1)


class TimmViTFeatures(VisionFoundationModel):
    """DINO / DINOv2 patch features from a timm ``VisionTransformer``.

    The forward is written here from the timm modules (patch conv, class/register
    tokens, positions, blocks, final norm) so positions are resized exactly as
    the official hub code does, not as timm's dynamic-size path does.
    """

    def __init__(self, name: str, vit: nn.Module, pos_interp: PosInterp):
        patch = vit.patch_embed.patch_size
        if patch[0] != patch[1]:
            raise ValueError(f'{name}: non-square patches {patch} are not supported')
        super().__init__(name, patch[0])
        self.vit = vit
        self.pos_interp = pos_interp
        self.freeze()

    def forward(self, img: Tensor) -> Tensor:
        """``(B, 3, H, W)`` -> ``(B, C, H/p, W/p)``: last block + final norm, patch tokens."""
        h, w = self.patch_grid(img)
        x = self.embed_tokens(img, (h, w))
        for block in self.vit.blocks:
            x = block(x)
        x = self.vit.norm(x)[:, self.vit.num_prefix_tokens:]
        return x.reshape(x.shape[0], h, w, -1).permute(0, 3, 1, 2).contiguous()

    def embed_tokens(self, img: Tensor, grid: Tuple[int, int]) -> Tensor:
        """Image -> tokens ``(B, prefix + h*w, C)``: [class, registers, patches] with positions."""
        vit = self.vit
        patches = vit.patch_embed.proj(img).flatten(2).transpose(1, 2)
        n_pos_prefix = 0 if vit.no_embed_class else vit.num_prefix_tokens
        patch_pos = vit.pos_embed[:, n_pos_prefix:]
        patches = patches + interpolate_patch_pos(patch_pos, grid, self.pos_interp)
        prefix = self.prefix_tokens()
        if n_pos_prefix:
            prefix = prefix + vit.pos_embed[:, :n_pos_prefix]
        return torch.cat([prefix.expand(img.shape[0], -1, -1).to(patches.dtype), patches], dim=1)

    def prefix_tokens(self) -> Tensor:
        """``(1, num_prefix_tokens, C)``: the class token, then the register tokens (if any)."""
        tokens = [t for t in (self.vit.cls_token, self.vit.reg_token) if t is not None]
        return torch.cat(tokens, dim=1)


class SamFeatures(VisionFoundationModel):
    """SAM image-encoder features: the neck output ``(B, 256, H/16, W/16)``."""

    def __init__(self, name: str, encoder: nn.Module):
        super().__init__(name, encoder.patch_embed.proj.kernel_size[0])
        self.encoder = encoder
        self.freeze()

    def forward(self, img: Tensor) -> Tensor:
        """DeCLIP's ``ImageEncoderViT.forward``: positions resized to the input grid."""
        grid = self.patch_grid(img)
        x = self.encoder.patch_embed(img)                      # (B, h, w, C)
        if self.encoder.pos_embed is not None:
            x = x + resize_grid_pos(self.encoder.pos_embed, grid).to(x.dtype)
        for block in self.encoder.blocks:
            x = block(x)
        return self.encoder.neck(x.permute(0, 3, 1, 2))


# --------------------------------------------------------------------------- weights

class Release(NamedTuple):
    """An official weight file and where it is published."""
    file: str
    url: str


RELEASES: Dict[str, Release] = {
    'dinov2-B': Release('dinov2_vitb14_reg4_pretrain.pth',
                        'https://dl.fbaipublicfiles.com/dinov2/dinov2_vitb14/'
                        'dinov2_vitb14_reg4_pretrain.pth'),
    'dinov2-L': Release('dinov2_vitl14_reg4_pretrain.pth',
                        'https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/'
                        'dinov2_vitl14_reg4_pretrain.pth'),
    'dino-B-8': Release('dino_vitbase8_pretrain.pth',
                        'https://dl.fbaipublicfiles.com/dino/dino_vitbase8_pretrain/'
                        'dino_vitbase8_pretrain.pth'),
    'dino-B-16': Release('dino_vitbase16_pretrain.pth',
                         'https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/'
                         'dino_vitbase16_pretrain.pth'),
    'sam-B': Release('sam_vit_b_01ec64.pth',
                     'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth'),
    'sam-L': Release('sam_vit_l_0b3195.pth',
                     'https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth'),
}

_WRAPPER_KEYS = ('state_dict', 'model')
_SHOWN_KEYS = 5


def read_weights(name: str, path: str) -> StateDict:
    """``{key: tensor}`` of the local file ``path`` (CPU); a missing file says what to download."""
    path = local_path(path)
    if not osp.isfile(path):
        release = RELEASES[name]
        raise FileNotFoundError(
            f"{name} weights not found at '{path}'. Download {release.file} from "
            f"{release.url} and put it at that path (weights are never downloaded "
            f"automatically).")
    archive = describe_archive(path)
    if archive:
        raise RuntimeError(f'{name} weights: {archive}')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # unpickling / truncated file
        raise RuntimeError(f"cannot read {name} weights '{path}': {err}") from err
    state = unwrap_state_dict(ckpt, path)
    check_finite(state, f"{name} weights '{path}'")
    return state


def unwrap_state_dict(ckpt: object, path: str) -> StateDict:
    """The tensor dict inside a checkpoint, unwrapping ``{'state_dict'|'model': {...}}``."""
    for key in _WRAPPER_KEYS:
        if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
            ckpt = ckpt[key]
    if not isinstance(ckpt, dict) or not all(isinstance(v, Tensor) for v in ckpt.values()):
        raise RuntimeError(f"'{path}' is not a state dict of tensors")
    return dict(ckpt)


def load_strict(module: nn.Module, state_dict: StateDict, path: str) -> None:
    """Load ``state_dict`` into ``module``; any missing/unexpected key or bad shape is an error."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        raise RuntimeError(
            f"weights '{path}' do not match the architecture: "
            f"{_key_summary('missing', missing)}; {_key_summary('unexpected', unexpected)}")
    try:
        module.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:  # shape mismatches
        raise RuntimeError(f"weights '{path}' do not match the architecture: {err}") from err


def _key_summary(kind: str, keys: List[str]) -> str:
    shown = ', '.join(keys[:_SHOWN_KEYS]) if keys else 'none'
    more = f' (+{len(keys) - _SHOWN_KEYS} more)' if len(keys) > _SHOWN_KEYS else ''
    return f'{len(keys)} {kind} keys: {shown}{more}'


def dinov2_hub_to_timm(state_dict: StateDict, path: str) -> StateDict:
    """DINOv2 hub layout (``register_tokens``, ``mask_token``, class pos) -> timm's.

    timm's reg4 models keep no position for the class token (``no_embed_class``), so
    the class position is folded into ``cls_token``; ``mask_token`` (training only)
    is dropped.  timm-format files (``reg_token``) pass through unchanged.
    """
    if 'mask_token' not in state_dict and 'register_tokens' not in state_dict:
        return state_dict
    if 'register_tokens' not in state_dict:
        raise RuntimeError(
            f"'{path}' is a DINOv2 checkpoint without registers; DeCLIP uses the "
            f"'_reg4' release (e.g. dinov2_vitb14_reg4_pretrain.pth)")
    out = {k: v for k, v in state_dict.items()
           if k not in ('mask_token', 'register_tokens', 'cls_token', 'pos_embed')}
    out['reg_token'] = state_dict['register_tokens']
    out['cls_token'] = state_dict['cls_token'] + state_dict['pos_embed'][:, :1]
    out['pos_embed'] = state_dict['pos_embed'][:, 1:]
    return out


def drop_classifier(state_dict: StateDict) -> StateDict:
    """Without ``head.*``: a classification head is not part of the feature path."""
    return {k: v for k, v in state_dict.items() if not k.startswith('head.')}


_SAM_PREFIX = 'image_encoder.'
_SAM_OTHER_PARTS = ('prompt_encoder.', 'mask_decoder.')


def sam_image_encoder_weights(state_dict: StateDict) -> StateDict:
    """Image-encoder keys of a full SAM checkpoint, unprefixed; encoder-only files pass through."""
    if not any(k.startswith(_SAM_PREFIX) for k in state_dict):
        return state_dict
    return {k[len(_SAM_PREFIX):] if k.startswith(_SAM_PREFIX) else k: v
            for k, v in state_dict.items() if not k.startswith(_SAM_OTHER_PARTS)}


# --------------------------------------------------------------------------- builders

def build_timm_vit(arch: str, defaults: dict, overrides: dict) -> nn.Module:
    """Randomly initialised timm ``VisionTransformer`` without a classifier."""
    return timm.create_model(arch, pretrained=False, num_classes=0, **{**defaults, **overrides})


def build_dinov2(name: str, arch: str, weights: str, overrides: dict) -> TimmViTFeatures:
    """DINOv2 ViT/14 with 4 registers (hub ``dinov2_vit*14_reg``, 518px position table)."""
    vit = build_timm_vit(arch, {'img_size': 518}, overrides)
    load_strict(vit, dinov2_hub_to_timm(read_weights(name, weights), weights), weights)
    return TimmViTFeatures(name, vit, DINOV2_REG_POS)


def build_dino(name: str, arch: str, weights: str, overrides: dict) -> TimmViTFeatures:
    """DINO v1 ViT-B (hub ``dino_vitb8`` / ``dino_vitb16``, 224px position table)."""
    vit = build_timm_vit(arch, {'img_size': 224}, overrides)
    load_strict(vit, drop_classifier(read_weights(name, weights)), weights)
    return TimmViTFeatures(name, vit, DINO_V1_POS)


_SAM_COMMON = dict(img_size=1024, patch_size=16, mlp_ratio=4, qkv_bias=True, use_rel_pos=True,
                   window_size=14, out_chans=256, norm_layer=partial(nn.LayerNorm, eps=1e-6))
_SAM_SIZES = {
    'sam-B': dict(embed_dim=768, depth=12, num_heads=12, global_attn_indexes=(2, 5, 8, 11)),
    'sam-L': dict(embed_dim=1024, depth=24, num_heads=16, global_attn_indexes=(5, 11, 17, 23)),
}


def build_sam(name: str, weights: str, overrides: dict) -> SamFeatures:
    """SAM image encoder with ``sam_model_registry``'s arguments (``overrides`` on top)."""
    try:
        from segment_anything.modeling import ImageEncoderViT
    except ImportError as err:
        raise ImportError("SAM teachers need 'pip install segment-anything==1.0'") from err
    encoder = ImageEncoderViT(**{**_SAM_COMMON, **_SAM_SIZES[name], **overrides})
    load_strict(encoder, sam_image_encoder_weights(read_weights(name, weights)), weights)
    return SamFeatures(name, encoder)


@register_vfm('dinov2-B')
def dinov2_b(weights: str, **overrides) -> TimmViTFeatures:
    return build_dinov2('dinov2-B', 'vit_base_patch14_reg4_dinov2', weights, overrides)


@register_vfm('dinov2-L')
def dinov2_l(weights: str, **overrides) -> TimmViTFeatures:
    return build_dinov2('dinov2-L', 'vit_large_patch14_reg4_dinov2', weights, overrides)


@register_vfm('dino-B-8')
def dino_b8(weights: str, **overrides) -> TimmViTFeatures:
    return build_dino('dino-B-8', 'vit_base_patch8_224', weights, overrides)


@register_vfm('dino-B-16')
def dino_b16(weights: str, **overrides) -> TimmViTFeatures:
    return build_dino('dino-B-16', 'vit_base_patch16_224', weights, overrides)


@register_vfm('sam-B')
def sam_b(weights: str, **overrides) -> SamFeatures:
    return build_sam('sam-B', weights, overrides)


@register_vfm('sam-L')
def sam_l(weights: str, **overrides) -> SamFeatures:
    return build_sam('sam-L', weights, overrides)
