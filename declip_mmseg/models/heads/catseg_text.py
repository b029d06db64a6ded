"""CAT-Seg's text side: class embeddings per prompt template from a trainable CLIP text tower.

Follows ``CATSegPredictor.get_text_embeds`` of the DeCLIP_CATSeg branch: every template filled
with the class name, tokenized (lower-cased), ``encode_text``, L2-normalised -> (T, P, E) for T
classes and P templates. Differences, on purpose (catseg.md quirks 4 and 5):

* ``synonyms='first'`` (default, the reference) uses the first synonym of each line only;
  ``'mean'`` averages the unit embeddings of all synonyms per template and renormalises.
* Embeddings are recomputed, with gradients, at every training step (as the reference); at
  evaluation they are cached until the text tower's weights or the vocabulary change (the
  reference never invalidates its cache, so periodic evaluations reuse stale embeddings).
"""
from typing import Sequence, Union

import open_clip
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS

from ...clip import resolve_model_name
from ...text import Vocabulary, get_templates, load_vocabulary
from ...text.templates import fill_template

SYNONYM_RULES = ('first', 'mean')


@MODELS.register_module()
class CATSegTextEncoder(BaseModule):
    """Vocabulary + templates + the CLIP text tower (``clip``, trained in CAT-Seg).

    Args:
        class_names: class-name file, list of lines (``', '`` between synonyms, as CAT-Seg's
            JSON files) or ``'cat; dog'``.
        allow_duplicate_names: a name may repeat (ADE-847 has 9 repeated first names).
        templates: template-set name or list (CAT-Seg: ``'catseg_single'``).
        synonyms: ``'first'`` or ``'mean'`` (see the module docstring).
        model_name: open_clip architecture, for the tokenizer.
        clip: the open_clip model whose text tower is used (image tower detached).
    """

    def __init__(self, class_names: Union[str, Sequence[str]], model_name: str,
                 clip: nn.Module, templates='catseg_single', synonyms: str = 'first',
                 allow_duplicate_names: bool = True, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if synonyms not in SYNONYM_RULES:
            raise ValueError(f'synonyms must be one of {SYNONYM_RULES}, got {synonyms!r}')
        self.clip = clip
        self.templates = get_templates(templates)
        self.synonyms = synonyms
        self.allow_duplicate_names = bool(allow_duplicate_names)
        self.tokenizer = open_clip.get_tokenizer(resolve_model_name(model_name))
        self._cache = None
        self.set_vocabulary(class_names)

    def init_weights(self):
        """Weights come from the CLIP file or the CAT-Seg checkpoint."""

    @property
    def num_classes(self) -> int:
        return self.vocabulary.num_classes

    def parse_vocabulary(self, class_names: Union[str, Sequence[str], Vocabulary]) -> Vocabulary:
        """``class_names`` read by this head's rules (duplicates allowed or not)."""
        return load_vocabulary(class_names, allow_duplicates=self.allow_duplicate_names)

    def set_vocabulary(self, class_names: Union[str, Sequence[str], Vocabulary]) -> Vocabulary:
        """Use other class names from now on (tokens made here, embeddings on the next call)."""
        vocabulary = self.parse_vocabulary(class_names)
        names = vocabulary.class_labels if self.synonyms == 'first' else vocabulary.queries
        self.vocabulary = vocabulary
        self.names = list(names)
        self.tokens = self.tokenizer([fill_template(t, n) for n in self.names for t in self.templates])
        self._cache = None
        return vocabulary

    def _weights_version(self):
        """Changes whenever a text-tower tensor is modified in place (optimizer steps,
        ``load_state_dict``) or replaced."""
        return tuple((p.data_ptr(), p._version) for p in self.clip.parameters())

    def compute(self) -> torch.Tensor:
        """(T, P, E) unit-norm embeddings, differentiable."""
        device = next(self.clip.parameters()).device
        feats = F.normalize(self.clip.encode_text(self.tokens.to(device)).float(), dim=-1)
        feats = feats.reshape(len(self.names), len(self.templates), -1)
        if self.synonyms == 'mean':
            index = torch.tensor(self.vocabulary.query_to_class, device=device)
            summed = feats.new_zeros(self.num_classes, *feats.shape[1:]).index_add_(0, index, feats)
            feats = F.normalize(summed, dim=-1)
        return feats

    def forward(self) -> torch.Tensor:
        """Class embeddings (T, P, E): recomputed in training mode, cached otherwise."""
        if self.training and torch.is_grad_enabled():
            self._cache = None
            return self.compute()
        key = (self._weights_version(), next(self.clip.parameters()).device)
        if self._cache is None or self._cache[0] != key:
            with torch.no_grad():
                self._cache = (key, self.compute())
        return self._cache[1]

    def train(self, mode: bool = True):
        """The text tower stays in eval mode (as ``CustomCLIP.train``; it has no dropout)."""
        super().train(mode)
        self.clip.eval()
        return self


def catseg_text_encoder(cfg: dict, model_name: str, clip: nn.Module) -> CATSegTextEncoder:
    """Build the text encoder of ``cfg`` on ``clip``."""
    cfg = dict(cfg)
    cfg.setdefault('type', 'CATSegTextEncoder')
    return MODELS.build(cfg, default_args=dict(model_name=model_name, clip=clip))


