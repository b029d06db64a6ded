"""What architecture a CLIP state dict holds, read from its tensor shapes.

Used before a file is loaded into a model, so that a checkpoint of another
architecture (a ViT-L-14 file for a ViT-B-16 config) fails with a message that
says which architecture the file holds and which ``model_name`` to pass,
instead of open_clip's bare ``AssertionError: text pos_embed width changed!``.
"""
import re
from typing import Dict, List, Optional

import open_clip
import torch

# Fields that must agree between a file and a model (image size is left out:
# open_clip resizes position embeddings to the model's grid on purpose).
STRUCTURAL = ('vision', 'vision_width', 'vision_layers', 'patch_size', 'embed_dim',
              'text_width', 'text_layers', 'context_length')


def _count_blocks(keys, pattern: str) -> Optional[int]:
    regex = re.compile(pattern)
    found = {int(m.group(1)) for m in map(regex.match, keys) if m}
    return max(found) + 1 if found else None


def architecture_of(state_dict: Dict[str, torch.Tensor]) -> Dict[str, object]:
    """Architecture fields of an open_clip-format state dict (missing ones are absent).

    Fields: ``vision`` ('ViT' or 'EVA'), ``vision_width``, ``vision_layers``,
    ``patch_size``, ``image_size`` (px), ``embed_dim``, ``text_width``,
    ``text_layers``, ``context_length``.
    """
    keys = list(state_dict)
    info: Dict[str, object] = {}
    sd = state_dict
    if 'visual.conv1.weight' in sd:
        w = sd['visual.conv1.weight']
        info.update(vision='ViT', vision_width=int(w.shape[0]), patch_size=int(w.shape[-1]),
                    vision_layers=_count_blocks(keys, r'^visual\.transformer\.resblocks\.(\d+)\.'))
        pos = sd.get('visual.positional_embedding')
        if pos is not None:
            info['image_size'] = int(round((pos.shape[0] - 1) ** 0.5)) * info['patch_size']
        if 'visual.proj' in sd and sd['visual.proj'] is not None:
            info['embed_dim'] = int(sd['visual.proj'].shape[-1])
    elif 'visual.trunk.patch_embed.proj.weight' in sd:
        w = sd['visual.trunk.patch_embed.proj.weight']
        info.update(vision='EVA', vision_width=int(w.shape[0]), patch_size=int(w.shape[-1]),
                    vision_layers=_count_blocks(keys, r'^visual\.trunk\.blocks\.(\d+)\.'))
        pos = sd.get('visual.trunk.pos_embed')
        if pos is not None:
            info['image_size'] = int(round((pos.shape[-2] - 1) ** 0.5)) * info['patch_size']
        head = sd.get('visual.head.proj.weight')
        if head is not None:
            info['embed_dim'] = int(head.shape[0])
    prefix = 'text.' if 'text.token_embedding.weight' in sd else ''
    if f'{prefix}token_embedding.weight' in sd:
        info['text_width'] = int(sd[f'{prefix}token_embedding.weight'].shape[1])
        info['text_layers'] = _count_blocks(
            keys, rf'^{re.escape(prefix)}transformer\.resblocks\.(\d+)\.')
        pos = sd.get(f'{prefix}positional_embedding')
        if pos is not None:
            info['context_length'] = int(pos.shape[0])
        proj = sd.get(f'{prefix}text_projection')
        if proj is not None and proj.ndim == 2:
            info.setdefault('embed_dim', int(proj.shape[1]))
    return {k: v for k, v in info.items() if v is not None}


def describe(info: Dict[str, object]) -> str:
    """'ViT image tower (width 1024, 24 blocks, patch 14, 224 px), text width 768, ...'."""
    parts = []
    if 'vision' in info:
        size = f", {info['image_size']} px" if 'image_size' in info else ''
        parts.append(f"{info['vision']} image tower (width {info.get('vision_width')}, "
                     f"{info.get('vision_layers')} blocks, patch {info.get('patch_size')}{size})")
    if 'text_width' in info:
        parts.append(f"text tower width {info['text_width']}, {info.get('text_layers')} blocks")
    if 'embed_dim' in info:
        parts.append(f"embedding {info['embed_dim']}")
    return ', '.join(parts) or 'no recognisable CLIP tensors'


def _config_info(cfg: dict) -> Dict[str, object]:
    vision, text = cfg.get('vision_cfg', {}), cfg.get('text_cfg', {})
    info = {'embed_dim': cfg.get('embed_dim'), 'image_size': vision.get('image_size'),
            'text_width': text.get('width'), 'text_layers': text.get('layers'),
            'context_length': text.get('context_length')}
    timm_name = vision.get('timm_model_name') or ''
    match = re.match(r'eva02_(tiny|small|base|large)_patch(\d+)', timm_name)
    if match:
        width, layers = {'tiny': (192, 12), 'small': (384, 12), 'base': (768, 12),
                         'large': (1024, 24)}[match.group(1)]
        info.update(vision='EVA', vision_width=width, vision_layers=layers,
                    patch_size=int(match.group(2)))
    elif 'width' in vision and not timm_name and not vision.get('hf_model_name'):
        layers = vision.get('layers')
        info.update(vision='ViT', vision_width=vision['width'], patch_size=vision.get('patch_size'),
                    vision_layers=layers if isinstance(layers, int) else None)
    if isinstance(info['image_size'], (list, tuple)):
        info['image_size'] = info['image_size'][0]
    return {k: v for k, v in info.items() if v is not None}


def matching_models(info: Dict[str, object], limit: int = 4) -> List[str]:
    """open_clip model names whose architecture has ``info``'s shapes (image size too)."""
    fields = [f for f in STRUCTURAL + ('image_size',) if f in info]
    if 'vision' not in info:
        return []
    names = []
    for name in open_clip.list_models():
        if name.endswith('-quickgelu'):
            continue  # same shapes as the GELU name; the weight tag decides
        cfg = open_clip.get_model_config(name) or {}
        own = _config_info(cfg)
        if all(own.get(f) == info[f] for f in fields):
            names.append(name)
    return names[:limit]


def mismatch(file_info: Dict[str, object], model_info: Dict[str, object]) -> List[str]:
    """Structural fields on which a file and a model disagree (fields both have)."""
    return [f for f in STRUCTURAL
            if f in file_info and f in model_info and file_info[f] != model_info[f]]


def architecture_error(path: str, model_name: str, file_info: Dict[str, object],
                       model_info: Dict[str, object]) -> str:
    """The message for a file whose architecture is not ``model_name``'s."""
    names = matching_models(file_info)
    if names:
        holds = f"a {names[0]} CLIP ({describe(file_info)})"
        fix = (f"Pass model_name='{names[0]}'" + (f" (or {', '.join(names[1:])})" if names[1:]
                                                  else '')
               + f" (tools/demo.py: --model {names[0]}; tools/test.py, tools/eval_all.py: "
               f"--cfg-options model.backbone.model_name={names[0]})")
    else:
        holds = f'a CLIP with {describe(file_info)}, which matches no open_clip architecture'
        fix = ('Pass the architecture the file was trained with as model_name (an open_clip '
               'name or an architecture JSON file with these sizes)')
    return (f"Checkpoint '{path}' holds {holds}, but model_name is '{model_name}' "
            f"({describe(model_info)}). {fix}, or a checkpoint of '{model_name}'.")
