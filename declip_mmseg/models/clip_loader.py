"""Build open_clip models from a model name and a weight source, with clear errors.

A weight source (``pretrained``) is either an open_clip tag such as ``'openai'``
or ``'laion2b_s34b_b88k'``, or the path of a local checkpoint file in
open_clip's format (a state dict, possibly wrapped in ``state_dict`` or with a
``module.`` prefix, or OpenAI's TorchScript release file).

Two traps of open_clip 3.x are handled here instead of being left to users:

* The ``openai`` weights were trained with QuickGELU, but ``ViT-B-16`` names a
  GELU architecture; open_clip only warns, and every dense feature is then
  slightly wrong.  We switch QuickGELU on whenever the tag asks for it.
* A missing file, a truncated download or a checkpoint of another architecture
  must fail with a message that names the file and the fix.
"""
import contextlib
import hashlib
import json
import logging
import os
import os.path as osp
import tempfile
import warnings
from typing import Optional

import open_clip
import torch

CHECKPOINT_SUFFIXES = ('.pt', '.pth', '.bin', '.safetensors', '.ckpt')


def looks_like_path(pretrained: str) -> bool:
    """True if ``pretrained`` names a file rather than an open_clip tag."""
    return (os.sep in pretrained or pretrained.startswith('.')
            or pretrained.lower().endswith(CHECKPOINT_SUFFIXES)
            or osp.exists(pretrained))


def resolve_model_name(model_name: str) -> str:
    """open_clip architecture name.

    A path to an open_clip architecture JSON file is registered with open_clip
    first and named by its file stem. Its ``vision_cfg`` may define a new timm
    EVA variant: ``"timm_model_name": "my_eva", "timm_eva_args": {...}`` (the
    keyword arguments of ``timm.models.eva.Eva``).
    """
    if model_name.endswith('.json'):
        if not osp.isfile(model_name):
            raise FileNotFoundError(f"architecture file '{model_name}' does not exist")
        with open(model_name) as f:
            cfg = json.load(f)
        eva_args = cfg.get('vision_cfg', {}).pop('timm_eva_args', None)
        if eva_args is not None:
            _register_timm_eva(cfg['vision_cfg']['timm_model_name'], eva_args)
        stem = osp.splitext(osp.basename(model_name))[0]
        folder = tempfile.mkdtemp(prefix='declip_arch_')
        with open(osp.join(folder, f'{stem}.json'), 'w') as f:
            json.dump(cfg, f)
        open_clip.add_model_config(osp.join(folder, f'{stem}.json'))
        model_name = stem
    if model_name not in open_clip.list_models():
        raise ValueError(
            f"Unknown CLIP architecture '{model_name}'. Use one of open_clip's "
            f"model names, e.g. 'ViT-B-16', 'ViT-L-14', 'ViT-L-14-336', "
            f"'EVA02-B-16' (see open_clip.list_models()), or the path of an "
            f"architecture JSON file.")
    return model_name


def _register_timm_eva(name: str, args: dict) -> None:
    from timm.models import is_model, register_model
    from timm.models.eva import Eva
    if is_model(name):
        return

    def create(pretrained=False, **kwargs):
        for key in ('pretrained_cfg', 'pretrained_cfg_overlay', 'cache_dir'):
            kwargs.pop(key, None)
        return Eva(**dict(args, **kwargs))
    create.__name__ = name
    create.__module__ = __name__
    register_model(create)


_LOCAL_FILE_HINT = ('Download the checkpoint on a machine with network access and pass the '
                    'file: --checkpoint PATH (tools/test.py, tools/demo.py, tools/eval_all.py), '
                    'or model.backbone.pretrained=PATH in a config.')


class WeightsUnavailableError(RuntimeError):
    """Tagged weights are neither cached nor downloadable (no network)."""


def check_tag_available(model_name: str, tag: str, timeout: float = 3.0) -> None:
    """Fail at once, in one line, when ``tag``'s weights are not cached and the
    download host cannot be reached, instead of letting the download retry."""
    cfg = _check_tag(model_name, tag)
    if _tag_cached(cfg):
        return
    host = _download_host(cfg)
    if host is None:
        return
    reason = None
    try:
        from huggingface_hub import constants
        if constants.HF_HUB_OFFLINE and cfg.get('hf_hub'):
            reason = 'HF_HUB_OFFLINE is set'
    except ImportError:
        pass
    if reason is None and not _reachable(*host, timeout=timeout):
        reason = f'{host[0]} cannot be reached (no network?)'
    if reason:
        raise WeightsUnavailableError(
            f"The '{tag}' weights of '{model_name}' are not in the local cache and {reason}. "
            f"{_LOCAL_FILE_HINT}")


def _tag_cached(cfg: dict) -> bool:
    if cfg.get('file'):
        return True
    from open_clip.pretrained import HF_WEIGHTS_NAME, has_hf_hub
    hub = cfg.get('hf_hub') if has_hf_hub() else None  # open_clip's own preference
    if hub:
        from huggingface_hub import try_to_load_from_cache
        model_id, filename = os.path.split(hub)
        names = [filename or HF_WEIGHTS_NAME, 'open_clip_model.safetensors',
                 'open_clip_pytorch_model.bin']
        return any(isinstance(try_to_load_from_cache(model_id, n), str) for n in names)
    url = cfg.get('url')
    if url:
        cached = osp.join(osp.expanduser('~'), '.cache', 'clip', osp.basename(url))
        if osp.isfile(cached):
            return True
    return False


def _download_host(cfg: dict):
    """(host, port) that open_clip would download ``cfg``'s weights from."""
    from urllib.parse import urlparse
    try:
        from huggingface_hub import constants
        hub_endpoint = constants.ENDPOINT
    except ImportError:
        hub_endpoint = None
    url = hub_endpoint if cfg.get('hf_hub') and hub_endpoint else cfg.get('url')
    if not url:
        return None
    proxy = next((os.environ[k] for k in ('HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy')
                  if os.environ.get(k)), None)
    parsed = urlparse(proxy if proxy and '://' in proxy else url)
    return parsed.hostname, parsed.port or (443 if parsed.scheme == 'https' else 80)


_REACHABLE = {}


def _reachable(host: str, port: int, timeout: float) -> bool:
    import socket
    if (host, port) not in _REACHABLE:  # probed once per process
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            _REACHABLE[host, port] = True
        except OSError:
            _REACHABLE[host, port] = False
    return _REACHABLE[host, port]


def tag_needs_quick_gelu(model_name: str, tag: str) -> bool:
    """True if the weights of ``tag`` were trained with QuickGELU (OpenAI's)."""
    return bool(_check_tag(model_name, tag).get('quick_gelu', False))


def _check_tag(model_name: str, tag: str) -> dict:
    cfg = open_clip.get_pretrained_cfg(model_name, tag)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        raise ValueError(
            f"'{tag}' is neither an existing checkpoint file nor an open_clip "
            f"weight tag of '{model_name}'. Known tags: {tags}. To use a local "
            f"file, pass its path (it must exist).")
    return cfg


def check_checkpoint_file(path: str) -> None:
    """Raise a clear error if ``path`` is missing, empty or unreadable."""
    if osp.isdir(path):
        found = sorted(f for f in os.listdir(path) if f.lower().endswith(CHECKPOINT_SUFFIXES))
        raise IsADirectoryError(
            f"CLIP checkpoint '{path}' is a directory; pass the checkpoint file itself"
            + (f" (checkpoint files there: {found[:5]})" if found else ''))
    if not osp.isfile(path):
        raise FileNotFoundError(
            f"CLIP checkpoint '{path}' does not exist. Download the weights "
            f"and put the file there, or pass an open_clip tag such as "
            f"'openai' as `pretrained`.")
    if osp.getsize(path) == 0:
        raise RuntimeError(
            f"CLIP checkpoint '{path}' is empty (0 bytes); the download was "
            f"probably interrupted. Download it again.")


def load_checkpoint_file(path: str) -> dict:
    """Read a checkpoint file into a flat ``{key: tensor}`` dict (on CPU).

    Unwraps ``{'state_dict': ...}`` / ``{'model': ...}`` and strips a leading
    ``module.`` (DistributedDataParallel) from every key.
    """
    check_checkpoint_file(path)
    trusted = os.environ.get('DECLIP_TRUSTED_CHECKPOINTS') == '1'
    try:
        if path.endswith('.safetensors'):
            from safetensors.torch import load_file
            obj = load_file(path, device='cpu')
        else:
            try:
                obj = torch.load(path, map_location='cpu', weights_only=not trusted)
            except RuntimeError as err:
                if 'TorchScript' not in str(err) and 'archive' not in str(err):
                    raise
                obj = torch.jit.load(path, map_location='cpu').state_dict()
    except Exception as err:  # noqa: BLE001 - re-raised with the file name
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else ''
        hint = ''
        training = describe_training_checkpoint(path) if 'Weights only' in str(err) else None
        if training:
            raise RuntimeError(training) from None
        if 'Weights only load failed' in str(err):
            reason = 'it holds objects other than tensors, or is not a checkpoint at all'
            hint = (' If it is a checkpoint from a source you trust, set '
                    'DECLIP_TRUSTED_CHECKPOINTS=1 to allow full unpickling.')
        raise RuntimeError(
            f"Cannot read CLIP checkpoint '{path}' ({type(err).__name__}: {reason}). "
            f"The file is corrupt or truncated, or not a PyTorch checkpoint; "
            f"download it again.{hint}") from err
    if isinstance(obj, torch.jit.ScriptModule):
        obj = obj.state_dict()
    if isinstance(obj, dict) and isinstance(obj.get('state_dict'), dict) and \
            'message_hub' in obj:  # mmengine's; open_clip's own (DeCLIP's releases) have none
        raise RuntimeError(_training_checkpoint_message(
            path, any(k.startswith('student.') for k in obj['state_dict'])))
    for wrapper in ('state_dict', 'model', 'module'):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict) or not obj:
        raise RuntimeError(
            f"CLIP checkpoint '{path}' holds no state dict (found "
            f"{type(obj).__name__}).")
    if all(k.startswith('module.') for k in obj):
        obj = {k[len('module.'):]: v for k, v in obj.items()}
    for key in ('input_resolution', 'context_length', 'vocab_size'):
        obj.pop(key, None)  # extras of OpenAI's TorchScript files
    return obj


def describe_training_checkpoint(path: str) -> Optional[str]:
    """A message if ``path`` is an mmengine training checkpoint (read without unpickling)."""
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # noqa: BLE001 - not a zip checkpoint: not ours to describe
        return None
    if not any(name.startswith('mmengine.') for name in unsafe):
        return None
    return _training_checkpoint_message(path, _pickle_mentions(path, b'student.tower.'))


def _pickle_mentions(path: str, needle: bytes) -> bool:
    import zipfile
    try:
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith('data.pkl'))
            return needle in archive.read(name)
    except Exception:  # noqa: BLE001
        return False


def _training_checkpoint_message(path: str, distiller: bool) -> str:
    folder = osp.dirname(osp.abspath(path))
    student = osp.join(folder, 'declip_student.pt')
    if not distiller:
        return (f"'{path}' is an mmengine training checkpoint (weights plus optimizer and "
                f"training state), not a CLIP checkpoint. Pass CLIP weights in open_clip or "
                f"EVA-CLIP format.")
    where = (f"It is in the same folder: {student}" if osp.isfile(student) else
             f"It is written to {student} when training ends (resume an interrupted run with "
             f"tools/train.py CONFIG --resume)")
    return (f"'{path}' is a training checkpoint of the DeCLIP distiller (mmengine's: the "
            f"student under 'student.', optimizer and training state), not CLIP weights. "
            f"Evaluate the exported student instead: --checkpoint {student}. {where}.")


def describe_key_mismatch(path: str, missing, unexpected, limit: int = 8) -> str:
    """One message naming the file and the first bad keys."""
    parts = [f"Checkpoint '{path}' does not match the model."]
    if missing:
        parts.append(f"{len(missing)} missing keys, first: {list(missing)[:limit]}.")
    if unexpected:
        parts.append(
            f"{len(unexpected)} unexpected keys, first: {list(unexpected)[:limit]}.")
    parts.append("Check that `model_name` is the architecture the file was "
                 "trained with (e.g. 'ViT-B-16' vs 'ViT-L-14').")
    return ' '.join(parts)


def build_clip(model_name: str, pretrained: Optional[str] = None,
               checkpoint: Optional[str] = None,
               quick_gelu: Optional[bool] = None) -> torch.nn.Module:
    """Create an open_clip CLIP model, eval mode, fp32, on the CPU.

    Args:
        model_name: open_clip architecture name, e.g. ``'ViT-B-16'``,
            ``'EVA02-B-16'``, or the path of an open_clip architecture JSON file.
        pretrained: open_clip tag, path of a full checkpoint file (open_clip or
            EVA-CLIP format, detected by its keys), or None for random weights.
            Loaded strictly: every key of the model must be in the file.
        checkpoint: a second file loaded over ``pretrained``, e.g. fine-tuned
            weights of DeCLIP / DenseVLM / CLIPSelf. It may hold only the
            image tower; the text tower then stays ``pretrained``'s.
        quick_gelu: force QuickGELU on or off; None decides from the tag
            (``openai`` weights need it) or from a ``-quickgelu`` model name.
    """
    model_name = resolve_model_name(model_name)
    kwargs = {}
    if pretrained and not looks_like_path(pretrained):
        if quick_gelu is None:
            quick_gelu = tag_needs_quick_gelu(model_name, pretrained)
    elif pretrained:
        check_checkpoint_file(pretrained)
    if checkpoint:
        check_checkpoint_file(checkpoint)
    if quick_gelu:
        kwargs['force_quick_gelu'] = True

    if pretrained and not looks_like_path(pretrained):
        check_tag_available(model_name, pretrained)
        try:
            model = open_clip.create_model(model_name, pretrained=pretrained, **kwargs)
        except (RuntimeError, OSError) as err:
            if 'download' in str(err).lower() or isinstance(err, OSError):
                raise WeightsUnavailableError(
                    f"Could not fetch the '{pretrained}' weights of '{model_name}' "
                    f"({type(err).__name__}: {str(err).splitlines()[0][:200]}). "
                    f"{_LOCAL_FILE_HINT}") from err
            raise
    else:
        with _quiet_open_clip():  # it warns "initialized randomly"; we load next
            model = open_clip.create_model(model_name, pretrained=None, **kwargs)
        if pretrained:
            load_weights(model, pretrained, over_base=False, model_name=model_name)
    if checkpoint:
        load_weights(model, checkpoint, over_base=bool(pretrained), model_name=model_name)
    return model.eval().float()


def load_weights(model: torch.nn.Module, path: str, over_base: bool,
                 model_name: Optional[str] = None) -> str:
    """Load a checkpoint file of any known format into ``model``; returns the format.

    A file of another architecture (read from its shapes) is an error naming the
    architecture it holds. Unexpected keys are always an error. Missing keys are an
    error too, except text-tower keys when ``over_base`` (the file is applied over
    full weights).
    """
    from .architecture import architecture_error, architecture_of, mismatch
    from .checkpoint_formats import to_open_clip
    model_name = model_name or getattr(model, 'declip_model_name', None) or '?'
    raw = load_checkpoint_file(path)
    try:
        state_dict, fmt = to_open_clip(raw, model)
    except RuntimeError as err:
        raise RuntimeError(f"Checkpoint '{path}': {err}; model_name is '{model_name}'") from err
    file_info, model_info = architecture_of(state_dict), architecture_of(model.state_dict())
    if mismatch(file_info, model_info):
        raise RuntimeError(architecture_error(path, model_name, file_info, model_info))
    if file_info.get('image_size') and model_info.get('image_size') and \
            file_info['image_size'] != model_info['image_size']:
        warnings.warn(
            f"Checkpoint '{path}' has position embeddings for {file_info['image_size']} px "
            f"input, model_name '{model_name}' for {model_info['image_size']} px: they are "
            "resized (open_clip's rule). If the file is another architecture (e.g. ViT-L-14-336 "
            "vs ViT-L-14), pass that model_name.", stacklevel=2)
    state_dict = _adapt_open_clip_state_dict(model, state_dict, path)
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    visual_missing = [k for k in missing if k.startswith('visual.')]
    if unexpected or visual_missing or (missing and not over_base):
        hint = ''
        if missing and not visual_missing and not unexpected:
            hint = (f" The file holds only the image tower ({fmt} format): pass the base "
                    f"CLIP as `pretrained` and this file as `checkpoint`.")
        raise RuntimeError(describe_key_mismatch(path, missing, unexpected) + hint)
    return fmt


@contextlib.contextmanager
def _quiet_open_clip():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _adapt_open_clip_state_dict(model: torch.nn.Module, state_dict: dict, path: str) -> dict:
    """Apply open_clip's own compatibility fixes and check tensor shapes."""
    from open_clip.factory import resize_pos_embed, resize_text_pos_embed
    if 'logit_scale' in state_dict and state_dict['logit_scale'].ndim != model.logit_scale.ndim:
        state_dict['logit_scale'] = state_dict['logit_scale'].reshape(model.logit_scale.shape)
    if getattr(model, 'logit_bias', None) is None:
        state_dict.pop('logit_bias', None)
    resize_pos_embed(state_dict, model)
    resize_text_pos_embed(state_dict, model)
    own = model.state_dict()
    bad = [f'{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}'
           for k, v in state_dict.items() if k in own and own[k].shape != v.shape]
    if bad:
        raise RuntimeError(
            f"Checkpoint '{path}' does not fit the model ({len(bad)} shape "
            f"mismatches, first: {bad[:5]}). Check `model_name`.")
    return state_dict


def weights_identity(model_name: str, pretrained: Optional[str],
                     checkpoint: Optional[str] = None) -> str:
    """A string that changes whenever the weights change.

    Tags are fixed releases, so the tag itself identifies them; local files are
    identified by the SHA-256 of their content (memoized per path, size and
    modification time).
    """
    if not pretrained and not checkpoint:
        raise ValueError('random weights have no stable identity')

    def one(source):
        if not source:
            return '-'
        return source if not looks_like_path(source) else f'sha256:{file_sha256(source)}'
    return f'{model_name}:{one(pretrained)}:{one(checkpoint)}'


_SHA_MEMO = {}


def file_sha256(path: str) -> str:
    st = os.stat(path)
    memo_key = (osp.realpath(path), st.st_size, st.st_mtime_ns)
    if memo_key not in _SHA_MEMO:
        digest = hashlib.sha256()
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 24), b''):
                digest.update(chunk)
        _SHA_MEMO[memo_key] = digest.hexdigest()
    return _SHA_MEMO[memo_key]
