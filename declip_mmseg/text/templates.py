"""Prompt-template sets, selected by name (``templates='openai_imagenet'``).

Every template is a ``str.format`` pattern with one ``{}`` for the class name; it may also
use ``{article}``, filled with "a" or "an" for the name (ViLD / DenseVLM), see
:func:`fill_template`.
"""
from typing import List, Sequence, Union

from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES, SIMPLE_IMAGENET_TEMPLATES

from ..registry import TEMPLATE_SETS, register_templates

# The 80 prompts of OpenAI's ImageNet zero-shot evaluation (ClearCLIP, DeCLIP, SCLIP).
register_templates('openai_imagenet', OPENAI_IMAGENET_TEMPLATES)
# The 7-prompt subset OpenAI recommends (open_clip's SIMPLE_IMAGENET_TEMPLATES).
register_templates('openai_imagenet_7', SIMPLE_IMAGENET_TEMPLATES)
register_templates('maskclip', [
    'there is a {} in the scene.', 'there is the {} in the scene.',
    'this is a {} in the scene.', 'this is the {} in the scene.',
    'this is one {} in the scene.'])
# MaskCLIP's 85 prompts (tools/maskclip_utils/prompt_engineering.py, ``prompt_templates``).
register_templates('maskclip_85', [
    'a bad photo of a {}.', 'a photo of many {}.', 'a sculpture of a {}.',
    'a photo of the hard to see {}.', 'a low resolution photo of the {}.', 'a rendering of a {}.',
    'graffiti of a {}.', 'a bad photo of the {}.', 'a cropped photo of the {}.',
    'a tattoo of a {}.', 'the embroidered {}.', 'a photo of a hard to see {}.',
    'a bright photo of a {}.', 'a photo of a clean {}.', 'a photo of a dirty {}.',
    'a dark photo of the {}.', 'a drawing of a {}.', 'a photo of my {}.', 'the plastic {}.',
    'a photo of the cool {}.', 'a close-up photo of a {}.', 'a black and white photo of the {}.',
    'a painting of the {}.', 'a painting of a {}.', 'a pixelated photo of the {}.',
    'a sculpture of the {}.', 'a bright photo of the {}.', 'a cropped photo of a {}.',
    'a plastic {}.', 'a photo of the dirty {}.', 'a jpeg corrupted photo of a {}.',
    'a blurry photo of the {}.', 'a photo of the {}.', 'a good photo of the {}.',
    'a rendering of the {}.', 'a {} in a video game.', 'a photo of one {}.', 'a doodle of a {}.',
    'a close-up photo of the {}.', 'a photo of a {}.', 'the origami {}.',
    'the {} in a video game.', 'a sketch of a {}.', 'a doodle of the {}.', 'a origami {}.',
    'a low resolution photo of a {}.', 'the toy {}.', 'a rendition of the {}.',
    'a photo of the clean {}.', 'a photo of a large {}.', 'a rendition of a {}.',
    'a photo of a nice {}.', 'a photo of a weird {}.', 'a blurry photo of a {}.', 'a cartoon {}.',
    'art of a {}.', 'a sketch of the {}.', 'a embroidered {}.', 'a pixelated photo of a {}.',
    'itap of the {}.', 'a jpeg corrupted photo of the {}.', 'a good photo of a {}.',
    'a plushie {}.', 'a photo of the nice {}.', 'a photo of the small {}.',
    'a photo of the weird {}.', 'the cartoon {}.', 'art of the {}.', 'a drawing of the {}.',
    'a photo of the large {}.', 'a black and white photo of a {}.', 'the plushie {}.',
    'a dark photo of a {}.', 'itap of a {}.', 'graffiti of the {}.', 'a toy {}.',
    'itap of my {}.', 'a photo of a cool {}.', 'a photo of a small {}.', 'a tattoo of the {}.',
    'there is a {} in the scene.', 'there is the {} in the scene.', 'this is a {} in the scene.',
    'this is the {} in the scene.', 'this is one {} in the scene.'
])
register_templates('photo', ['a photo of a {}.'])
# CAT-Seg's prompt sets (MODEL.PROMPT_ENSEMBLE_TYPE 'single', used by every released config, and
# 'imagenet_select').
register_templates('catseg_single', ['A photo of a {} in the scene'])
register_templates('catseg_imagenet_select', [
    'itap of a {}.', 'a bad photo of the {}.', 'a origami {}.', 'a photo of the large {}.',
    'a {} in a video game.', 'art of the {}.', 'a photo of the small {}.',
    'A photo of a {} in the scene'])
register_templates('name', ['{}'])

# The 63 hand-crafted prompts of DenseVLM's (and CLIPSelf's) ``tools/generate_text_embeddings.py``
# (from ViLD); every prompt that starts with "a" or "the" gets the prefix "This is ".
_VILD_HAND_CRAFT = (
    ['There is {article} {} in the scene.', 'There is the {} in the scene.',
     'a photo of {article} {} in the scene.', 'a photo of the {} in the scene.',
     'a photo of one {} in the scene.',
     'itap of {article} {}.', 'itap of my {}.', 'itap of the {}.',
     'a photo of {article} {}.', 'a photo of my {}.', 'a photo of the {}.',
     'a photo of one {}.', 'a photo of many {}.',
     'a good photo of {article} {}.', 'a good photo of the {}.',
     'a bad photo of {article} {}.', 'a bad photo of the {}.']
    + [f'a photo of {d} {adj} {{}}.' for adj in ('nice', 'cool', 'weird', 'small', 'large',
                                                 'clean', 'dirty') for d in ('a', 'the')]
    + [f'a {kind} photo of {d}.' for kind in ('bright', 'dark')
       for d in ('{article} {}', 'the {}')]
    + ['a photo of a hard to see {}.', 'a photo of the hard to see {}.']
    + [f'a {kind} photo of {d}.' for kind in ('low resolution', 'cropped', 'close-up',
                                              'jpeg corrupted', 'blurry', 'pixelated')
       for d in ('{article} {}', 'the {}')]
    + ['a black and white photo of the {}.', 'a black and white photo of {article} {}.']
    + [f'{d} {kind} {{}}.' for kind in ('plastic', 'toy', 'plushie', 'cartoon')
       for d in ('a', 'the')]
    + ['an embroidered {}.', 'the embroidered {}.',
       'a painting of the {}.', 'a painting of a {}.'])
register_templates('densevlm_hand_craft',
                   ['This is ' + t if t.startswith(('a', 'the')) else t for t in _VILD_HAND_CRAFT])


def article(name: str) -> str:
    """'an' before a vowel, else 'a' (ViLD's rule, on the name's first character)."""
    return 'an' if name[:1] in 'aeiou' and name else 'a'


def fill_template(template: str, name: str) -> str:
    """The prompt of ``name``: ``{}`` is the name, ``{article}`` its indefinite article."""
    return template.format(name, article=article(name))


def get_templates(spec: Union[str, Sequence[str]]) -> List[str]:
    """Templates from a registered name or an explicit list of format strings."""
    if isinstance(spec, str):
        if spec not in TEMPLATE_SETS:
            raise ValueError(f"unknown template set '{spec}'; known: {sorted(TEMPLATE_SETS)}")
        return list(TEMPLATE_SETS[spec])
    templates = list(spec)
    if not templates or any('{}' not in t for t in templates):
        raise ValueError('templates must be a non-empty list of strings with one "{}" each')
    return templates
