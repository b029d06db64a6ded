"""Tiny random-weight models written to files in the real formats (tests and tools/selfcheck.py).

The architectures are real open_clip / timm ViTs (conv patch embedding, class token, learned
positions, attention blocks, text transformer), only narrow and shallow, so whatever loads
them runs the real loading and forward code.
"""
import json
import os

import open_clip
import timm
import torch

from ..clip import resolve_model_name

TINY_ARCH = {
    'embed_dim': 32,
    'vision_cfg': {'image_size': 32, 'layers': 3, 'width': 64, 'head_width': 16,
                   'patch_size': 8},
    'text_cfg': {'context_length': 77, 'vocab_size': 49408, 'width': 32, 'heads': 2,
                 'layers': 2},
}

TINY_EVA_ARCH = {
    'embed_dim': 32,
    'vision_cfg': {
        'image_size': 32, 'timm_model_name': 'eva02_tiny_test_clip', 'timm_model_pretrained': False,
        'timm_pool': 'token', 'timm_proj': None,
        # the layout of timm's eva02_base_patch16_clip_224, narrow and shallow
        'timm_eva_args': {'img_size': 32, 'patch_size': 8, 'embed_dim': 64, 'depth': 3,
                          'num_heads': 4, 'qkv_fused': False, 'mlp_ratio': 4 * 2 / 3,
                          'swiglu_mlp': True, 'scale_mlp': True, 'scale_attn_inner': True,
                          'use_rot_pos_emb': True, 'ref_feat_shape': [16, 16]},
    },
    'text_cfg': TINY_ARCH['text_cfg'],
    'custom_text': True,
}

# a DenseVLM teacher: another tiny EVA02 CLIP, wider and of patch 7 (the student's input is not a
# multiple of its patch, as L/14 at 512)
TINY_EVA_TEACHER_ARCH = json.loads(json.dumps(TINY_EVA_ARCH))
TINY_EVA_TEACHER_ARCH['embed_dim'] = 24
TINY_EVA_TEACHER_ARCH['vision_cfg']['timm_model_name'] = 'eva02_tiny_teacher_test_clip'
TINY_EVA_TEACHER_ARCH['vision_cfg']['image_size'] = 28
TINY_EVA_TEACHER_ARCH['vision_cfg']['timm_eva_args'].update(img_size=28, patch_size=7,
                                                           embed_dim=48, num_heads=3, depth=2)
TINY_EVA_TEACHER_ARCH['text_cfg'] = dict(TINY_EVA_ARCH['text_cfg'], width=24)

# a narrow, shallow DINOv2-with-registers ViT-B/14 (timm layout); pass to build_vfm('dinov2-B', ...)
TINY_VFM_ARCH = dict(depth=2, embed_dim=48, num_heads=2)


def write_tiny_clip(folder, name='TinyCLIP-Test', seed=0, arch=TINY_ARCH):
    """Write ``<name>.json`` (architecture) and ``<name>.pt`` (random weights, open_clip format);
    returns both paths."""
    os.makedirs(folder, exist_ok=True)
    arch_path = os.path.join(folder, f'{name}.json')
    with open(arch_path, 'w') as f:
        json.dump(arch, f)
    resolve_model_name(arch_path)
    torch.manual_seed(seed)
    model = open_clip.create_model(name)
    # open_clip / timm initialise positions and projections tiny; spread them
    # (and every EVA parameter) so that windows, positions and biases matter.
    with torch.no_grad():
        if hasattr(model.visual, 'trunk'):
            for param in model.visual.parameters():
                param.normal_(0, 0.3) if param.ndim < 2 else param.normal_(0, param.shape[-1] ** -0.5)
            for name_, param in model.visual.named_parameters():
                if name_.endswith('norm1.weight') or name_.endswith('norm2.weight') \
                        or 'norm.weight' in name_:
                    param.add_(1.0)
        else:
            model.visual.positional_embedding.normal_(0, 0.5)
            model.visual.proj.normal_(0, 0.2)
    ckpt_path = os.path.join(folder, f'{name}.pt')
    torch.save(model.state_dict(), ckpt_path)
    return arch_path, ckpt_path


def write_tiny_vfm(path, seed=0):
    """Random weights of :data:`TINY_VFM_ARCH` in timm's format; returns ``path``."""
    torch.manual_seed(seed)
    model = timm.create_model('vit_base_patch14_reg4_dinov2', pretrained=False, num_classes=0,
                              **TINY_VFM_ARCH)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save(model.state_dict(), path)
    return path
