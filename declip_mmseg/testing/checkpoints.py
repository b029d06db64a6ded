"""Checkpoint files in the release formats of other projects, written from tiny random models:
EVA-CLIP's own key naming, and DINO / DINOv2 / SAM teachers (the VFM releases)."""
from functools import partial

import torch

# -- writers of the real key formats (inverse of the loader's conversion) ------------
_RENAMES = [('attn.q_proj.bias', 'attn.q_bias'), ('attn.v_proj.bias', 'attn.v_bias'),
            ('attn.norm.', 'attn.inner_attn_ln.'), ('mlp.fc1_g.', 'mlp.w1.'),
            ('mlp.fc1_x.', 'mlp.w2.'), ('mlp.fc2.', 'mlp.w3.'), ('mlp.norm.', 'mlp.ffn_ln.')]


def eva_clip_state_dict(open_clip_sd, visual_prefix='visual.', text=True):
    """EVA-CLIP's own naming (EVA02_CLIP_*.pt and DeCLIP / DenseVLM / CLIPSelf releases)."""
    out = {}
    depth = 0
    for k, v in open_clip_sd.items():
        if k.startswith('visual.trunk.'):
            k = k[len('visual.trunk.'):]
            for new, old in _RENAMES:
                k = k.replace(new, old)
            if k.startswith('blocks.'):
                depth = max(depth, int(k.split('.')[1]) + 1)
            out[visual_prefix + k] = v
        elif text:
            out[k] = v
    rope = torch.randn(16, 8)  # EVA-CLIP stores its RoPE tables; they are recomputed on load
    for name in ['rope'] + [f'blocks.{i}.attn.rope' for i in range(depth)]:
        out[f'{visual_prefix}{name}.freqs_cos'] = rope
        out[f'{visual_prefix}{name}.freqs_sin'] = rope
    return out



DIM, DEPTH, HEADS = 32, 2, 2
TINY = dict(embed_dim=DIM, depth=DEPTH, num_heads=HEADS)
TINY_SAM = dict(TINY, img_size=64, window_size=2, global_attn_indexes=(1,))
NATIVE_GRID = 4   # position tables are 4x4 ...
GRID = (5, 7)     # ... and the test images are 5x7 patches
DINOV2_PATCH = 14
DINO_PATCHES = {'dino-B-8': 8, 'dino-B-16': 16}


# ------------------------------------------------------------------ release-format files

def _random(gen, *shape, scale=0.2):
    return torch.randn(*shape, generator=gen) * scale


def _block_weights(prefix, gen, layerscale):
    """One ViT block in the DINO / DINOv2 / timm naming."""
    r = partial(_random, gen)
    w = {
        'norm1.weight': 1 + r(DIM), 'norm1.bias': r(DIM),
        'attn.qkv.weight': r(3 * DIM, DIM), 'attn.qkv.bias': r(3 * DIM),
        'attn.proj.weight': r(DIM, DIM), 'attn.proj.bias': r(DIM),
        'norm2.weight': 1 + r(DIM), 'norm2.bias': r(DIM),
        'mlp.fc1.weight': r(4 * DIM, DIM), 'mlp.fc1.bias': r(4 * DIM),
        'mlp.fc2.weight': r(DIM, 4 * DIM), 'mlp.fc2.bias': r(DIM),
    }
    if layerscale:
        w.update({'ls1.gamma': 1 + r(DIM), 'ls2.gamma': 1 + r(DIM)})
    return {prefix + k: v for k, v in w.items()}


def _vit_weights(patch, seed, registers, layerscale):
    """Random ViT in DINO's layout: class position inside ``pos_embed``."""
    gen = torch.Generator().manual_seed(seed)
    sd = {
        'cls_token': _random(gen, 1, 1, DIM),
        'pos_embed': _random(gen, 1, 1 + NATIVE_GRID ** 2, DIM, scale=1.0),
        'patch_embed.proj.weight': _random(gen, DIM, 3, patch, patch, scale=0.05),
        'patch_embed.proj.bias': _random(gen, DIM),
        'norm.weight': 1 + _random(gen, DIM), 'norm.bias': _random(gen, DIM),
    }
    if registers:
        sd['register_tokens'] = _random(gen, 1, registers, DIM)
    for i in range(DEPTH):
        sd.update(_block_weights(f'blocks.{i}.', gen, layerscale))
    return sd


def dinov2_hub_weights(seed=0):
    """``dinov2_vit*14_reg4_pretrain.pth`` layout (with the training-only ``mask_token``)."""
    sd = _vit_weights(DINOV2_PATCH, seed, registers=4, layerscale=True)
    sd['mask_token'] = torch.zeros(1, DIM)
    return sd


def dino_v1_weights(patch, seed=0, head=True):
    """``dino_vitbase*_pretrain.pth`` layout, optionally with a classifier head."""
    sd = _vit_weights(patch, seed, registers=0, layerscale=False)
    if head:
        sd.update({'head.weight': torch.randn(10, DIM), 'head.bias': torch.randn(10)})
    return sd


def sam_encoder(seed=0):
    """Tiny ``segment_anything`` image encoder with every parameter random (none zero)."""
    from segment_anything.modeling import ImageEncoderViT
    torch.manual_seed(seed)
    enc = ImageEncoderViT(img_size=64, patch_size=16, mlp_ratio=4, qkv_bias=True, use_rel_pos=True,
                          out_chans=256, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
                          **{k: v for k, v in TINY_SAM.items() if k != 'img_size'}).eval()
    with torch.no_grad():
        for p in enc.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    return enc


def full_sam_weights(encoder):
    """``sam_vit_*.pth`` layout: ``image_encoder.*`` plus prompt-encoder / mask-decoder keys."""
    sd = {f'image_encoder.{k}': v for k, v in encoder.state_dict().items()}
    sd['prompt_encoder.pe_layer.positional_encoding_gaussian_matrix'] = torch.randn(2, 128)
    sd['prompt_encoder.no_mask_embed.weight'] = torch.randn(1, 256)
    sd['mask_decoder.iou_token.weight'] = torch.randn(1, 256)
    return sd


def save(tmp_path, name, state_dict):
    path = tmp_path / name
    torch.save(state_dict, path)
    return str(path)

