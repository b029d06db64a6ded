"""Where CLIP weights come from, checked before anything is built.

A weight source is an open_clip tag (``'openai'``, ``'laion2b_s34b_b88k'``) or the path of a
local checkpoint file. This module answers, with errors that name the file and the fix: is it a
file or a tag; is a tag's download cached or reachable (one network probe per host and
process); is a file there, non-empty and readable (:func:`load_checkpoint_file` unwraps
``state_dict`` / ``model`` / ``module.`` and explains mmengine training checkpoints); and what
identifies the weights for the text-embedding cache (:func:`weights_identity`).
"""
import hashlib
import os
import os.path as osp
import re
import socket
import zipfile
from typing import Optional
from urllib.parse import urlparse

import open_clip
import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub import try_to_load_from_cache
from open_clip.pretrained import HF_WEIGHTS_NAME, has_hf_hub

CHECKPOINT_SUFFIXES = ('.pt', '.pth', '.bin', '.safetensors', '.ckpt')


def check_weight_source(source, key: str = 'pretrained') -> None:
    """An empty or blank weight source (``--checkpoint "$UNSET"``, ``pretrained=`` in
    --cfg-options) is an error, never random weights. None means "no weights" and passes."""
    if isinstance(source, str) and not source.strip():
        raise ValueError(
            f'{key} is {source!r}: an empty weight source (an unset shell variable?). Give an '
            "open_clip tag such as 'openai' or the path of a checkpoint file; leaving it empty "
            'would evaluate random weights.')
def local_path(path: str) -> str:
    """A weight path as given by a user, made usable: a leading ``~`` / ``~user`` expanded (a
    shell does not expand it inside ``--cfg-options k=~/x.pt``, quotes or config files). Every
    function here that takes a path goes through it, so does every loader of weight files."""
    return osp.expanduser(path) if isinstance(path, str) and path.startswith('~') else path


def looks_like_path(pretrained: str) -> bool:
    """True if ``pretrained`` names a file rather than an open_clip tag."""
    return (os.sep in pretrained or pretrained.startswith(('.', '~'))
            or pretrained.lower().endswith(CHECKPOINT_SUFFIXES)
            or osp.exists(local_path(pretrained)))


def describe_archive(path: str) -> Optional[str]:
    """A message if ``path`` is a zip archive that holds files (e.g. ``model.pt`` zipped into
    ``model.zip``) rather than a checkpoint; None for anything else, PyTorch's own zip-based
    checkpoints (``<name>/data.pkl`` inside) included."""
    path = local_path(path)
    if not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith('/')]
    except (zipfile.BadZipFile, OSError):
        return None
    if any(n.endswith(('/data.pkl', '/constants.pkl')) or n in ('data.pkl', 'constants.pkl')
           for n in names):
        return None  # torch.save's (or TorchScript's) own zip format
    inside = [n for n in names if n.lower().endswith(CHECKPOINT_SUFFIXES)]
    shown = ', '.join(repr(n) for n in (inside or names)[:5]) or 'nothing'
    return (f"'{path}' is a zip archive (holding {shown}{' ...' if len(names) > 5 else ''}), "
            'not a checkpoint itself. Unpack it (unzip '
            f"'{path}' -d {osp.dirname(path) or '.'}) and pass the checkpoint file inside"
            + (f' ({inside[0]!r})' if inside else '') + '.')


LOCAL_FILE_HINT = ('Download the checkpoint on a machine with network access and pass the '
                    'file: --checkpoint PATH (tools/test.py, tools/demo.py, tools/eval_all.py), '
                    'or model.backbone.pretrained=PATH in a config.')


class WeightsUnavailableError(RuntimeError):
    """Tagged weights are neither cached nor downloadable (no network)."""


class NonFiniteWeightsError(RuntimeError):
    """A state dict holds NaN or Inf values (a diverged training run, a broken file)."""


LOAD_FIX = ('the file is broken (often: exported by a training run that diverged); use another '
            'checkpoint or re-export it from a checkpoint saved before the loss became NaN')


def check_finite(state: dict, source: str, fix: str = LOAD_FIX) -> None:
    """Raise :class:`NonFiniteWeightsError` naming ``source`` and the first floating tensor of
    ``state`` (``{key: tensor}``, in its order) that holds a NaN or an Inf, and ``fix``.

    One NaN weight makes every pixel one class and still evaluates; this is the one check
    between a checkpoint file and a model (and between a model and an exported file)."""
    for key, value in state.items():
        if not (torch.is_tensor(value) and value.is_floating_point()):
            continue
        finite = torch.isfinite(value)
        if not bool(finite.all()):
            bad = value[~finite]
            kinds = '/'.join(k for k, hit in (('NaN', bool(bad.isnan().any())),
                                               ('Inf', bool(bad.isinf().any()))) if hit)
            raise NonFiniteWeightsError(
                f"{source}: tensor '{key}' {tuple(value.shape)} holds {bad.numel()} non-finite "
                f"({kinds}) of {value.numel()} values (the first such tensor); {fix}.")


def check_tag_available(model_name: str, tag: str, timeout: float = 3.0) -> None:
    """Fail at once, in one line, when ``tag``'s weights are not cached and the
    download host cannot be reached, instead of letting the download retry."""
    cfg = _check_tag(model_name, tag)
    if _tag_cached(cfg):
        return
    host = _download_host(cfg)
    if host is None:
        return
    reason = 'HF_HUB_OFFLINE is set' if hf_constants.HF_HUB_OFFLINE and cfg.get('hf_hub') else None
    if reason is None and not _reachable(*host, timeout=timeout):
        reason = f'{host[0]} cannot be reached (no network?)'
    if reason:
        raise WeightsUnavailableError(
            f"The '{tag}' weights of '{model_name}' are not in the local cache and {reason}. "
            f"{LOCAL_FILE_HINT}")


def _tag_cached(cfg: dict) -> bool:
    if cfg.get('file'):
        return True
    hub = cfg.get('hf_hub') if has_hf_hub() else None  # open_clip's own preference
    if hub:
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
    hub_endpoint = hf_constants.ENDPOINT
    url = hub_endpoint if cfg.get('hf_hub') and hub_endpoint else cfg.get('url')
    if not url:
        return None
    proxy = next((os.environ[k] for k in ('HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy')
                  if os.environ.get(k)), None)
    parsed = urlparse(proxy if proxy and '://' in proxy else url)
    return parsed.hostname, parsed.port or (443 if parsed.scheme == 'https' else 80)


_REACHABLE = {}


def _reachable(host: str, port: int, timeout: float) -> bool:
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
    path = local_path(path)
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
    path = local_path(path)
    check_checkpoint_file(path)
    archive = describe_archive(path)
    if archive:
        raise RuntimeError(archive)
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
            path, any(k.startswith('student.') for k in obj['state_dict']),
            str((obj.get('meta') or {}).get('cfg', ''))))
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
    check_finite(obj, f"CLIP checkpoint '{path}'")
    return obj


def describe_training_checkpoint(path: str) -> Optional[str]:
    """A message if ``path`` is an mmengine training checkpoint (read without unpickling)."""
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # noqa: BLE001 - not a zip checkpoint: not ours to describe
        return None
    if not any(name.startswith('mmengine.') for name in unsafe):
        return None
    pickled = _pickle_bytes(path)
    return _training_checkpoint_message(path, b'student.tower.' in pickled, pickled)


def _pickle_bytes(path: str) -> bytes:
    try:
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith('data.pkl'))
            return archive.read(name)
    except Exception:  # noqa: BLE001
        return b''


# the DistillHook's export file name in the config text mmengine keeps in a checkpoint's meta
_EXPORT_NAME = re.compile(r"export_name\s*=\s*['\"]([^'\"/]+)['\"]")
STUDENT_FILES = ('declip_student.pt', 'densevlm_student.pt', 'clipself_student.pt',
                 'regionclip_student.pt')


def _student_file(folder: str, cfg_text: str) -> Optional[str]:
    """The exported student of the run that wrote a checkpoint in ``folder``: the name its
    config gives (``export_name``), else the one student file in the folder."""
    named = _EXPORT_NAME.search(cfg_text or '')
    if named:
        return osp.join(folder, named.group(1))
    present = [f for f in sorted(os.listdir(folder)) if f.endswith('_student.pt')
               or f == 'student.pt'] if osp.isdir(folder) else []
    return osp.join(folder, present[0]) if len(present) == 1 else None


def _training_checkpoint_message(path: str, distiller: bool, cfg_text=b'') -> str:
    if not distiller:
        return (f"'{path}' is an mmengine training checkpoint (weights plus optimizer and "
                f"training state), not a CLIP checkpoint. Pass CLIP weights in open_clip or "
                f"EVA-CLIP format.")
    if isinstance(cfg_text, bytes):
        cfg_text = cfg_text.decode('utf-8', 'replace')
    folder = osp.dirname(osp.abspath(path))
    student = _student_file(folder, cfg_text)
    head = (f"'{path}' is a training checkpoint of a distiller (mmengine's: the student under "
            f"'student.', optimizer and training state), not CLIP weights.")
    if student is None:
        return (f"{head} Evaluate the student the run exports when training ends instead: the "
                f"file named by export_name of its DistillHook, in {folder} (one of "
                f"{', '.join(STUDENT_FILES)}); resume an interrupted run with tools/train.py "
                "CONFIG --resume.")
    where = (f"It is in the same folder: {student}" if osp.isfile(student) else
             f"It is written to {student} when training ends (resume an interrupted run with "
             f"tools/train.py CONFIG --resume)")
    return f"{head} Evaluate the exported student instead: --checkpoint {student}. {where}."


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
    path = local_path(path)
    st = os.stat(path)
    memo_key = (osp.realpath(path), st.st_size, st.st_mtime_ns)
    if memo_key not in _SHA_MEMO:
        digest = hashlib.sha256()
        with open(path, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 24), b''):
                digest.update(chunk)
        _SHA_MEMO[memo_key] = digest.hexdigest()
    return _SHA_MEMO[memo_key]
