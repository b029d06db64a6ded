"""Zero-shot text classifier: class names -> CLIP text embeddings -> cosine logits.

Per name, the L2-normalized embeddings of all prompt templates are averaged
and renormalized (OpenAI's zero-shot recipe).  Synonyms of a class are
separate queries; the segmentor max-pools their probabilities after the
softmax.  Embeddings are cached on disk, keyed by the weights' identity, the
names and the templates, so later runs skip the text tower altogether.
"""
import contextlib
import hashlib
import json
import logging
import os
import os.path as osp
import time
from typing import Optional, Sequence, Union

import open_clip
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmseg.registry import MODELS

from ..text import Vocabulary, get_templates, load_vocabulary
from ..text.templates import fill_template
from .clip_loader import build_clip, resolve_model_name, weights_identity

CACHE_FORMAT = 1


def default_cache_dir() -> str:
    return os.environ.get('DECLIP_CACHE_DIR',
                          osp.join(osp.expanduser('~'), '.cache', 'declip_mmseg', 'text_embeddings'))


@torch.no_grad()
def encode_queries(clip: torch.nn.Module, tokenizer, queries: Sequence[str],
                   templates: Sequence[str], device: torch.device,
                   batch_size: int = 256, normalize_mean: bool = True) -> torch.Tensor:
    """(Q, E) embeddings: mean over templates of unit-norm text features, renormalized
    unless ``normalize_mean=False`` (DenseVLM's files keep the plain mean, norm < 1)."""
    clip = clip.to(device)
    texts = [fill_template(t, q) for q in queries for t in templates]
    feats = []
    batches, last = -(-len(texts) // batch_size), time.monotonic()
    for i, start in enumerate(range(0, len(texts), batch_size), start=1):
        tokens = tokenizer(texts[start:start + batch_size]).to(device)
        feats.append(F.normalize(clip.encode_text(tokens).float(), dim=-1).cpu())
        if batches > 1 and (time.monotonic() - last > 5 or i == batches):
            last = time.monotonic()  # progress of the long first encoding, every 5 s
            print_log(f'  encoded {min(start + batch_size, len(texts))}/{len(texts)} prompts',
                      logger='current')
    mean = torch.cat(feats).reshape(len(queries), len(templates), -1).mean(dim=1)
    return F.normalize(mean, dim=-1) if normalize_mean else mean


def load_embeddings_file(path: str, num_queries: Optional[int], source: str) -> torch.Tensor:
    """(Q, E) float32 class embeddings from a ``.npy`` (or torch) file, used as given.

    Raises with the file name when it is missing or unreadable, and with both counts when
    its rows do not match the vocabulary ``source`` (``num_queries`` names)."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'text-embedding file {path!r} does not exist. DenseVLM / CLIPSelf ship theirs in '
            'the metadata/ folder of github.com/HVision-NKU/DenseVLM (git lfs) and on '
            'huggingface.co/lyhisme/DenseVLM; or leave the embedding file unset to embed the '
            'class names with the text tower (cached)')
    try:
        if path.endswith('.npy'):
            import numpy as np
            emb = torch.from_numpy(np.load(path, allow_pickle=False))
        else:
            emb = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # noqa: BLE001 - re-raised with the file name
        raise RuntimeError(f'cannot read text-embedding file {path!r} ({err}); it is corrupt or '
                           'not a (classes, channels) array: download it again') from err
    if emb.dim() != 2:
        raise ValueError(f'text-embedding file {path!r} holds an array of shape '
                         f'{tuple(emb.shape)}; expected (classes, channels)')
    if num_queries is not None and emb.shape[0] != num_queries:
        raise ValueError(f'text-embedding file {path!r} has {emb.shape[0]} classes but the '
                         f'vocabulary {source} has {num_queries}: use the file made for that '
                         'class list (same names, same order)')
    return emb.float()


@MODELS.register_module()
class ZeroShotTextClassifier(BaseModule):
    """Scores dense image features against a vocabulary.

    Args:
        class_names: a class-name file, a list of lines (synonyms separated by
            ``;`` or ``,``) or a ``'cat; dog'`` string, see
            :func:`declip_mmseg.text.load_vocabulary`.
        model_name, pretrained, checkpoint: the CLIP whose text tower encodes
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
    """

    def __init__(self, class_names: Union[str, Sequence[str]], model_name: Optional[str] = None,
                 pretrained: Optional[str] = None, templates='openai_imagenet',
                 cache_dir: Union[str, None, bool] = None, checkpoint: Optional[str] = None,
                 quick_gelu: Optional[bool] = None, encode_device: Optional[str] = None,
                 allow_duplicate_names: bool = False,
                 split_synonyms: bool = True, normalize_mean: bool = True,
                 embeddings_file: Optional[str] = None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if model_name is None and embeddings_file is None:
            raise ValueError('ZeroShotTextClassifier needs `model_name` (the segmentor '
                             'copies it from its backbone)')
        self.vocabulary: Vocabulary = load_vocabulary(class_names, allow_duplicate_names,
                                                      split_synonyms)
        self.templates = get_templates(templates)
        self.normalize_mean = bool(normalize_mean)
        self.embeddings_file = embeddings_file
        self.model_name, self.pretrained, self.quick_gelu = model_name, pretrained, quick_gelu
        self.checkpoint = checkpoint
        self.cache_dir = default_cache_dir() if cache_dir is None else cache_dir
        self.encode_device = encode_device
        if embeddings_file is not None:
            embeddings = load_embeddings_file(embeddings_file, len(self.vocabulary.queries),
                                              self.vocabulary.source)
        else:
            embeddings = self._load_or_encode()
        self.register_buffer('query_embeddings', embeddings, persistent=False)
        self.register_buffer('query_to_class',
                             torch.tensor(self.vocabulary.query_to_class, dtype=torch.long),
                             persistent=False)

    @property
    def num_classes(self) -> int:
        return self.vocabulary.num_classes

    # -- cache -------------------------------------------------------------
    def cache_key(self) -> Optional[str]:
        if not (self.pretrained or self.checkpoint) or self.cache_dir is False:
            return None
        payload = json.dumps({
            'format': CACHE_FORMAT, 'weights': self._identity(), 'quick_gelu': self.quick_gelu,
            'queries': self.vocabulary.queries,
            'templates': self.templates,
            **({} if self.normalize_mean else {'normalize_mean': False})}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def _identity(self) -> str:
        return weights_identity(self.model_name, self.pretrained, self.checkpoint)

    def _load_or_encode(self) -> torch.Tensor:
        key = self.cache_key()
        path = osp.join(self.cache_dir, f'{key}.pt') if key else None
        if path and osp.isfile(path):
            try:
                cached = torch.load(path, map_location='cpu', weights_only=True)
                if cached['queries'] == self.vocabulary.queries and cached['templates'] == self.templates:
                    return cached['embeddings'].float()
                print_log(f'text-embedding cache {path} does not match; recomputing',
                          logger='current', level=logging.WARNING)
            except Exception as err:  # noqa: BLE001 - a broken cache is rebuilt, never fatal
                print_log(f'text-embedding cache {path} is unreadable ({err}); recomputing',
                          logger='current', level=logging.WARNING)
        embeddings = self._encode()
        if path:
            self._write_cache(path, embeddings)
        return embeddings

    def _write_cache(self, path: str, embeddings: torch.Tensor) -> None:
        """Save the embeddings atomically (parallel ranks never see half a file); a cache
        folder that cannot be written (read-only, full disk, no permission) only costs the
        re-encoding next time, so it is a warning, never a failure."""
        tmp = f'{path}.{os.getpid()}.tmp'
        try:
            os.makedirs(self.cache_dir, exist_ok=True)
            torch.save({'embeddings': embeddings, 'queries': self.vocabulary.queries,
                        'templates': self.templates, 'weights': self._identity()}, tmp)
            os.replace(tmp, path)
        except (OSError, RuntimeError) as err:  # torch's file writer raises RuntimeError
            with contextlib.suppress(OSError):
                os.remove(tmp)
            print_log(f'cannot write the text-embedding cache {path} ({err}); the embeddings '
                      'were computed and are used without caching. Make the folder writable '
                      'or choose another with DECLIP_CACHE_DIR=PATH (or the text classifier\'s '
                      'cache_dir; cache_dir=False turns the cache off)',
                      logger='current', level=logging.WARNING)

    def _encode(self) -> torch.Tensor:
        queries = self.vocabulary.queries
        print_log(f'encoding {len(queries)} class names x {len(self.templates)} templates '
                  f'with the {self.model_name} text tower', logger='current')
        device = torch.device(self.encode_device or ('cuda' if torch.cuda.is_available() else 'cpu'))
        clip = build_clip(self.model_name, self.pretrained, checkpoint=self.checkpoint,
                          quick_gelu=self.quick_gelu)
        tokenizer = open_clip.get_tokenizer(resolve_model_name(self.model_name))
        return encode_queries(clip, tokenizer, queries, self.templates, device,
                              normalize_mean=self.normalize_mean)

    # -- scoring -----------------------------------------------------------
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Cosine logits: (B, E, h, w) features -> (B, Q, h, w), Q queries."""
        features = F.normalize(features, dim=1)
        return torch.einsum('behw,qe->bqhw', features, self.query_embeddings.to(features.dtype))

    def pool_synonyms(self, probs: torch.Tensor) -> torch.Tensor:
        """Max over the synonyms of each class: (Q, H, W) -> (C, H, W)."""
        if self.num_classes == probs.shape[0]:
            return probs
        index = self.query_to_class.to(probs.device).view(-1, *([1] * (probs.dim() - 1)))
        pooled = probs.new_zeros((self.num_classes, *probs.shape[1:]))
        return pooled.scatter_reduce_(0, index.expand_as(probs), probs, 'amax', include_self=False)
