"""Class names -> CLIP text embeddings, per prompt template, cached on disk.

:class:`TextEncoder` keeps one CLIP text tower loaded (handed over from a model that was built
anyway, or built on the first cache miss) so a new vocabulary only encodes the new names.
:meth:`TextEncoder.per_template` returns the L2-normalised embedding of every (name, template)
pair, (Q, T, E); :func:`mean_over_templates` is OpenAI's zero-shot recipe on top of it (mean
over templates, renormalised). Embeddings are cached keyed by the weights' identity
(:func:`declip_mmseg.clip.weights_identity`), the names and the templates, so later runs
skip the text tower altogether.
"""
import contextlib
import hashlib
import json
import logging
import os
import os.path as osp
import time
from typing import Optional, Sequence, Union

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from mmengine.logging import print_log

from ..clip import build_clip, check_finite, detach_visual, resolve_model_name, weights_identity
from .templates import fill_template

CACHE_FORMAT = 1


def default_cache_dir() -> str:
    return os.environ.get('DECLIP_CACHE_DIR',
                          osp.join(osp.expanduser('~'), '.cache', 'declip_mmseg', 'text_embeddings'))


def mean_over_templates(per_template: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """(Q, T, E) unit-norm prompt embeddings -> (Q, E) mean over templates, renormalised unless
    ``normalize=False`` (DenseVLM's files keep the plain mean, norm < 1)."""
    mean = per_template.mean(dim=1)
    return F.normalize(mean, dim=-1) if normalize else mean


@torch.no_grad()
def encode_prompts(clip: torch.nn.Module, tokenizer, queries: Sequence[str],
                   templates: Sequence[str], device: torch.device,
                   batch_size: int = 256) -> torch.Tensor:
    """(Q, T, E) float32 on the CPU: the unit-norm text feature of every template filled with
    every query (``clip.encode_text``), ``batch_size`` prompts per call."""
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
    return torch.cat(feats).reshape(len(queries), len(templates), -1)


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
            emb = torch.from_numpy(np.load(path, allow_pickle=False))
        else:
            emb = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # noqa: BLE001 - re-raised with the file name
        raise RuntimeError(f'cannot read text-embedding file {path!r} ({err}); it is corrupt or '
                           'not a (classes, channels) array: download it again') from err
    if emb.dim() != 2:
        raise ValueError(f'text-embedding file {path!r} holds an array of shape '
                         f'{tuple(emb.shape)}; expected (classes, channels)')
    check_finite({'embeddings': emb}, f'text-embedding file {path!r}')
    if num_queries is not None and emb.shape[0] != num_queries:
        raise ValueError(f'text-embedding file {path!r} has {emb.shape[0]} classes but the '
                         f'vocabulary {source} has {num_queries}: use the file made for that '
                         'class list (same names, same order)')
    return emb.float()


class TextEncoder:
    """The text tower of one CLIP, kept loaded, with a disk cache of its embeddings.

    Args:
        model_name, pretrained, checkpoint, quick_gelu: the CLIP (see
            :func:`declip_mmseg.clip.build_clip`); they also identify the cached embeddings.
        clip: an open_clip model of those weights whose text tower to use (its image tower may
            have been taken away with :func:`declip_mmseg.clip.detach_visual`); None builds the
            CLIP at the first cache miss and keeps its text tower.
        cache_dir: where embeddings are cached; None uses ``$DECLIP_CACHE_DIR`` or
            ``~/.cache/declip_mmseg/text_embeddings``; ``False`` disables the cache.
        device: where the text tower runs; None picks CUDA when available. It goes back to the
            CPU after each encoding.
    """

    def __init__(self, model_name: str, pretrained: Optional[str] = None,
                 checkpoint: Optional[str] = None, quick_gelu: Optional[bool] = None,
                 clip: Optional[torch.nn.Module] = None,
                 cache_dir: Union[str, None, bool] = None, device: Optional[str] = None):
        self.model_name, self.pretrained = model_name, pretrained
        self.checkpoint, self.quick_gelu = checkpoint, quick_gelu
        self.cache_dir = default_cache_dir() if cache_dir is None else cache_dir
        self.device = device
        self._clip = clip
        self.builds = 0  # text towers built here (0 when handed one)

    # -- the text tower ----------------------------------------------------------------------
    def text_tower(self) -> torch.nn.Module:
        """The CLIP whose ``encode_text`` runs (built once, on the first call that needs it)."""
        if self._clip is None:
            clip = build_clip(self.model_name, self.pretrained, checkpoint=self.checkpoint,
                              quick_gelu=self.quick_gelu)
            detach_visual(clip)
            self._clip = clip
            self.builds += 1
        return self._clip

    def _encode(self, queries: Sequence[str], templates: Sequence[str]) -> torch.Tensor:
        print_log(f'encoding {len(queries)} class names x {len(templates)} templates '
                  f'with the {self.model_name} text tower', logger='current')
        device = torch.device(self.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
        clip = self.text_tower().to(device)
        try:
            tokenizer = open_clip.get_tokenizer(resolve_model_name(self.model_name))
            return encode_prompts(clip, tokenizer, queries, templates, device)
        finally:
            clip.cpu()

    # -- embeddings ----------------------------------------------------------------------------
    def per_template(self, queries: Sequence[str], templates: Sequence[str]) -> torch.Tensor:
        """(Q, T, E) unit-norm embeddings of every query in every template (cached)."""
        return self._cached(list(queries), list(templates), dict(per_template=True),
                            lambda: self._encode(queries, templates))

    def embed(self, queries: Sequence[str], templates: Sequence[str],
              normalize_mean: bool = True) -> torch.Tensor:
        """(Q, E): :func:`mean_over_templates` of the per-template embeddings (cached)."""
        extra = {} if normalize_mean else {'normalize_mean': False}
        return self._cached(list(queries), list(templates), extra, lambda: mean_over_templates(
            self._encode(queries, templates), normalize_mean))

    # -- cache ---------------------------------------------------------------------------------
    def identity(self) -> Optional[str]:
        """What identifies the weights (None for random weights: nothing is cached)."""
        if not (self.pretrained or self.checkpoint):
            return None
        return weights_identity(self.model_name, self.pretrained, self.checkpoint)

    def cache_key(self, queries, templates, extra: dict) -> Optional[str]:
        identity = self.identity()
        if identity is None or self.cache_dir is False:
            return None
        payload = json.dumps({'format': CACHE_FORMAT, 'weights': identity,
                              'quick_gelu': self.quick_gelu, 'queries': queries,
                              'templates': templates, **extra}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def _cached(self, queries, templates, extra, compute) -> torch.Tensor:
        key = self.cache_key(queries, templates, extra)
        path = osp.join(self.cache_dir, f'{key}.pt') if key else None
        if path and osp.isfile(path):
            try:
                cached = torch.load(path, map_location='cpu', weights_only=True)
                if cached['queries'] == queries and cached['templates'] == templates:
                    return cached['embeddings'].float()
                print_log(f'text-embedding cache {path} does not match; recomputing',
                          logger='current', level=logging.WARNING)
            except Exception as err:  # noqa: BLE001 - a broken cache is rebuilt, never fatal
                print_log(f'text-embedding cache {path} is unreadable ({err}); recomputing',
                          logger='current', level=logging.WARNING)
        embeddings = compute()
        if path:
            self._write_cache(path, embeddings, queries, templates)
        return embeddings

    def _write_cache(self, path: str, embeddings: torch.Tensor, queries, templates) -> None:
        """Save atomically (parallel ranks never see half a file); a cache folder that cannot
        be written (read-only, full disk, no permission) only costs the re-encoding next time,
        so it is a warning, never a failure."""
        tmp = f'{path}.{os.getpid()}.tmp'
        try:
            os.makedirs(self.cache_dir, exist_ok=True)
            torch.save({'embeddings': embeddings, 'queries': queries, 'templates': templates,
                        'weights': self.identity()}, tmp)
            os.replace(tmp, path)
        except (OSError, RuntimeError) as err:  # torch's file writer raises RuntimeError
            with contextlib.suppress(OSError):
                os.remove(tmp)
            print_log(f'cannot write the text-embedding cache {path} ({err}); the embeddings '
                      'were computed and are used without caching. Make the folder writable '
                      'or choose another with DECLIP_CACHE_DIR=PATH (or the text classifier\'s '
                      'cache_dir; cache_dir=False turns the cache off)',
                      logger='current', level=logging.WARNING)
