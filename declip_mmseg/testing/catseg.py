"""A tiny CAT-Seg (narrow towers and aggregator) and writers of CAT-Seg files in the released
(detectron2) key format, for tests and tools/selfcheck.py."""
import torch
from mmseg.registry import MODELS

from ..models.segmentors.catseg_checkpoint import CLIP_PREFIX, released_state_dict
from .checkpoints import eva_clip_state_dict

CATSEG_NAMES = ['cat, kitty', 'dog', 'grass, lawn', 'sky']

# the B/16 layout of eva_vitb_384.yaml, narrow: 32-d CLIP embeddings, a 4x4 patch grid
TINY_CATSEG_AGGREGATOR = dict(
    type='CATSegAggregator', text_guidance_dim=32, text_guidance_proj_dim=16,
    appearance_guidance_dim=32, appearance_guidance_proj_dim=16, decoder_dims=(32, 16),
    decoder_guidance_dims=(16, 8), decoder_guidance_proj_dims=(8, 4), num_layers=2, num_heads=2,
    hidden_dim=32, pooling_sizes=(1, 1), feature_resolution=(4, 4), window_sizes=2,
    prompt_channel=1, pad_len=8)


def tiny_catseg_cfg(arch: str, class_names=CATSEG_NAMES, checkpoint=None, pretrained=None,
                    openai: bool = False, **kw) -> dict:
    """Config of a CAT-Seg on a tiny CLIP (``arch``: the architecture JSON of
    :func:`write_tiny_clip`): 32 px CLIP input, guidance from blocks 0 and 1, slide protocol
    48 x 48 with 32 px windows at stride 16."""
    backbone = dict(type='DeCLIPViT', model_name=arch, pretrained=pretrained, residual=False, ffn=False)
    backbone.update(dict(attn_mode='qk') if openai else dict(attn_mode='csa', attn_scale=1.0))
    cfg = dict(type='CATSeg', checkpoint=checkpoint, backbone=backbone,
               text_classifier=dict(type='CATSegTextEncoder', class_names=list(class_names),
                                    templates=['A photo of a {} in the scene']),
               aggregator=dict(TINY_CATSEG_AGGREGATOR), clip_resolution=(32, 32),
               guidance_layers=(0, 1), upsample_dims=(16, 8), slide_size=(48, 48), slide_crop=32,
               slide_stride=16, size_divisor=8,
               dense_path='value_cls' if openai else 'decoupled', dense_normalize=not openai)
    cfg.update(kw)
    return cfg


def build_tiny_catseg(arch: str, seed: int = 0, **kw):
    """A tiny CAT-Seg with random (seeded) weights everywhere, in eval mode."""
    torch.manual_seed(seed)
    model = MODELS.build(tiny_catseg_cfg(arch, **kw))
    with torch.no_grad():  # spread the aggregator's weights so every path matters
        for name, param in model.named_parameters():
            if name.startswith(('aggregator.', 'upsample')) and param.ndim >= 1:
                param.add_(torch.randn_like(param) * 0.1)
    return model.eval()


def split_qkv(clip_state: dict) -> dict:
    """open_clip's packed ``attn.in_proj_weight`` -> CAT-Seg's OpenAI ``q/k/v_proj_weight``."""
    out = {}
    for key, value in clip_state.items():
        if key.endswith('attn.in_proj_weight'):
            stem = key[:-len('in_proj_weight')]
            for name, part in zip('qkv', value.chunk(3)):
                out[f'{stem}{name}_proj_weight'] = part
        else:
            out[key] = value
    return out


def write_released_catseg(model, path: str, clip_format: str = 'eva_clip') -> str:
    """Save ``model`` as a released CAT-Seg file: ``{'model': ..., 'trainer': ..., 'iteration'}``
    with the CLIP in EVA-CLIP naming (``'eva_clip'``, DeCLIP_CATSeg), CAT-Seg's OpenAI split
    q/k/v (``'split_qkv'``) or open_clip's (``'open_clip'``)."""
    state = released_state_dict(model)
    clip = {k[len(CLIP_PREFIX):]: v for k, v in state.items() if k.startswith(CLIP_PREFIX)}
    rest = {k: v for k, v in state.items() if not k.startswith(CLIP_PREFIX)}
    if clip_format == 'eva_clip':
        clip = eva_clip_state_dict(clip)
    elif clip_format == 'split_qkv':
        clip = split_qkv(clip)
    state = {**{CLIP_PREFIX + k: v for k, v in clip.items()}, **rest}
    torch.save({'model': state, 'trainer': {'iteration': 3}, 'iteration': 3}, path)
    return path


def ade_seg_png(object_ids):
    """ADE20K's ``*_seg.png`` encoding of object class ids: R = id // 256 * 10, G = id % 256."""
    import numpy as np
    out = np.zeros((*object_ids.shape, 3), np.uint8)
    out[..., 0] = object_ids // 256 * 10
    out[..., 1] = object_ids % 256
    return out


def make_raw_ade_full(root: str, n: int = 3, size=(60, 84), seed: int = 0) -> str:
    """A raw ``ADE20K_2021_17_01`` with ``n`` validation images: left wall (ADE id 2978, trainId
    0), right building (312 -> 1), bottom rows sky (2420 -> 2) and an id outside the table (5)."""
    import os

    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, 'images', 'ADE', 'validation', 'abbey')
    os.makedirs(folder, exist_ok=True)
    h, w = size
    for i in range(1, n + 1):
        objects = np.full((h, w), 2978, np.int64)
        objects[:, w // 2:] = 312
        objects[-h // 4:] = 2420
        objects[:4, :4] = 5
        image = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        Image.fromarray(image).save(os.path.join(folder, f'ADE_val_{i:08d}.jpg'))
        Image.fromarray(ade_seg_png(objects)).save(os.path.join(folder, f'ADE_val_{i:08d}_seg.png'))
    return root


def make_catseg_coco_stuff(root: str, n: int = 2, size=(48, 64), seed: int = 0) -> str:
    """CAT-Seg's COCO-Stuff layout: ``images/{train,val}2017/<id>.jpg`` and
    ``annotations_detectron2/{train,val}2017/<id>.png`` (trainIds 0-170, 255 ignored)."""
    import os

    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    h, w = size
    for split in ('train2017', 'val2017'):
        for folder in ('images', 'annotations_detectron2'):
            os.makedirs(os.path.join(root, folder, split), exist_ok=True)
        for i in range(n):
            label = np.full((h, w), rng.integers(0, 171), np.uint8)
            label[:, w // 2:] = rng.integers(0, 171)
            label[:3, :3] = 255
            image = (rng.random((h, w, 3)) * 64).astype(np.uint8) + label[..., None] % 3 * 60
            Image.fromarray(image).save(os.path.join(root, 'images', split, f'{i:012d}.jpg'))
            Image.fromarray(label).save(os.path.join(root, 'annotations_detectron2', split, f'{i:012d}.png'))
    return root
