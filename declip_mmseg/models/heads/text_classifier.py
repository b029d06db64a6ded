"""Zero-shot text classifier: dense features -> cosine logits against a vocabulary.

Per name, the L2-normalised embeddings of all prompt templates are averaged and
renormalised (OpenAI's zero-shot recipe, :class:`declip_mmseg.text.TextEncoder`). Synonyms of
a class are separate queries; :func:`pool_synonyms` max-pools their scores into the class.
:meth:`ZeroShotTextClassifier.set_vocabulary` switches to other class names with the same
text tower (only the new names are encoded; cached ones are read from disk).
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS

from ...text import (
    TextEncoder,
    Vocabulary,
    check_context_length,
    get_templates,
    load_embeddings_file,
    load_vocabulary,
)


def pool_synonyms(scores: torch.Tensor, query_to_class: Optional[torch.Tensor], dim: int = 0,
                  num_classes: Optional[int] = None) -> torch.Tensor:
    """Max over the synonyms of each class along ``dim``: (..., Q, ...) -> (..., C, ...).

    ``query_to_class`` (Q,) gives the class of each query (None: one query per class);
    ``num_classes`` defaults to its largest value + 1.
    """
    if query_to_class is None:
        return scores
    if num_classes is None:
        num_classes = int(query_to_class.max()) + 1 if query_to_class.numel() else 0
    if num_classes == scores.shape[dim]:
        return scores
    shape = [1] * scores.dim()
    shape[dim] = -1
    index = query_to_class.to(scores.device).view(shape).expand_as(scores)
    out_shape = list(scores.shape)
    out_shape[dim] = num_classes
    pooled = scores.new_zeros(out_shape)
    return pooled.scatter_reduce_(dim, index, scores, 'amax', include_self=False)


@MODELS.register_module()
class ZeroShotTextClassifier(BaseModule):
    """Scores dense image features against a vocabulary.

    Args:
        class_names: a class-name file, a list of lines (synonyms separated by
            ``;`` or ``,``) or a ``'cat; dog'`` string, see
            :func:`declip_mmseg.text.load_vocabulary`.
        model_name, pretrained, checkpoint, quick_gelu: the CLIP whose text tower encodes
            the names; the segmentor fills them in from its backbone when omitted.
        templates: template-set name or list of ``'... {} ...'`` strings.
        cache_dir: where embeddings are cached; None uses
            ``$DECLIP_CACHE_DIR`` or ``~/.cache/declip_mmseg/text_embeddings``;
            ``False`` disables the cache.
        encode_device: device for the text tower on a cache miss; None picks
            CUDA when available.
        allow_duplicate_names: accept a name on two lines (see
            :func:`declip_mmseg.text.parse_lines`), for the COCO-Object files of SCLIP,
            NACLIP and ProxyCLIP.
        split_synonyms: False reads every line of ``class_names`` as one name, commas
            included (DenseVLM's vocabulary), see :func:`declip_mmseg.text.parse_lines`.
        normalize_mean: False keeps the plain mean of the unit-norm prompt embeddings
            (DenseVLM's ``generate_text_embeddings.py`` does; its rows have norm ~0.93).
        embeddings_file: a ``(classes, channels)`` ``.npy`` used exactly as given instead of
            encoding the names (DenseVLM's ``metadata/*.npy``); its class count must match.
        text_encoder: a :class:`~declip_mmseg.text.TextEncoder` to use (the segmentor hands
            over the one of its backbone's CLIP); None makes one from the weight settings.
    """

    def __init__(self, class_names: Union[str, Sequence[str]], model_name: Optional[str] = None,
                 pretrained: Optional[str] = None, templates='openai_imagenet',
                 cache_dir: Union[str, None, bool] = None, checkpoint: Optional[str] = None,
                 quick_gelu: Optional[bool] = None, encode_device: Optional[str] = None,
                 allow_duplicate_names: bool = False,
                 split_synonyms: bool = True, normalize_mean: bool = True,
                 embeddings_file: Optional[str] = None,
                 text_encoder: Optional[TextEncoder] = None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if model_name is None and embeddings_file is None and text_encoder is None:
            raise ValueError('ZeroShotTextClassifier needs `model_name` (the segmentor '
                             'copies it from its backbone)')
        self.templates = get_templates(templates)
        self.normalize_mean = bool(normalize_mean)
        self.allow_duplicate_names = bool(allow_duplicate_names)
        self.split_synonyms = bool(split_synonyms)
        self.embeddings_file = embeddings_file
        self.text_encoder = None
        if embeddings_file is None:
            self.text_encoder = text_encoder or TextEncoder(
                model_name, pretrained, checkpoint=checkpoint, quick_gelu=quick_gelu,
                cache_dir=cache_dir, device=encode_device)
        self.register_buffer('query_embeddings', torch.zeros(0), persistent=False)
        self.register_buffer('query_to_class', torch.zeros(0, dtype=torch.long), persistent=False)
        self.set_vocabulary(class_names)

    @property
    def num_classes(self) -> int:
        return self.vocabulary.num_classes

    def parse_vocabulary(self, class_names: Union[str, Sequence[str], Vocabulary]) -> Vocabulary:
        """``class_names`` read by this head's rules (duplicates, synonyms split or not)."""
        return load_vocabulary(class_names, self.allow_duplicate_names, self.split_synonyms)

    def set_vocabulary(self, class_names: Union[str, Sequence[str], Vocabulary]) -> Vocabulary:
        """Score against other class names from now on; only their text embeddings are
        computed (or read from the cache), nothing else is rebuilt. Returns the vocabulary."""
        vocabulary = self.parse_vocabulary(class_names)
        if self.embeddings_file is not None:
            embeddings = load_embeddings_file(self.embeddings_file, len(vocabulary.queries),
                                              vocabulary.source)
        else:
            check_context_length(vocabulary, self.templates)
            embeddings = self.text_encoder.embed(vocabulary.queries, self.templates,
                                                 self.normalize_mean)
        device = self.query_embeddings.device
        self.vocabulary = vocabulary
        self.query_embeddings = embeddings.to(device)
        self.query_to_class = torch.tensor(vocabulary.query_to_class, dtype=torch.long,
                                           device=device)
        return vocabulary

    def cache_key(self) -> Optional[str]:
        """Name of this vocabulary's cache file (None: not cached)."""
        if self.text_encoder is None:
            return None
        extra = {} if self.normalize_mean else {'normalize_mean': False}
        return self.text_encoder.cache_key(self.vocabulary.queries, self.templates, extra)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Cosine logits: (B, E, h, w) features -> (B, Q, h, w), Q queries."""
        features = F.normalize(features, dim=1)
        return torch.einsum('behw,qe->bqhw', features, self.query_embeddings.to(features.dtype))

    def pool_synonyms(self, probs: torch.Tensor) -> torch.Tensor:
        """Max over the synonyms of each class: (Q, H, W) -> (C, H, W)."""
        return pool_synonyms(probs, self.query_to_class, dim=0, num_classes=self.num_classes)
