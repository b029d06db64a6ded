"""Prompt-template sets, selected by name (``templates='openai_imagenet'``).

Every template is a ``str.format`` pattern with one ``{}`` for the class name.
"""
from typing import Dict, List, Sequence, Union

from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES, SIMPLE_IMAGENET_TEMPLATES

TEMPLATE_SETS: Dict[str, List[str]] = {}


def register_templates(name: str, templates: Sequence) -> None:
    """Add a template set; items are format strings or one-argument callables."""
    TEMPLATE_SETS[name] = [t if isinstance(t, str) else t('{}') for t in templates]


# The 80 prompts of OpenAI's ImageNet zero-shot evaluation (ClearCLIP, DeCLIP, SCLIP).
register_templates('openai_imagenet', OPENAI_IMAGENET_TEMPLATES)
# The 7-prompt subset OpenAI recommends (open_clip's SIMPLE_IMAGENET_TEMPLATES).
register_templates('openai_imagenet_7', SIMPLE_IMAGENET_TEMPLATES)
register_templates('maskclip', [
    'there is a {} in the scene.', 'there is the {} in the scene.',
    'this is a {} in the scene.', 'this is the {} in the scene.',
    'this is one {} in the scene.'])
register_templates('photo', ['a photo of a {}.'])
register_templates('name', ['{}'])


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
