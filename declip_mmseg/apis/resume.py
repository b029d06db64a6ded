"""``--resume`` checked before anything is built: the checkpoint must be a training checkpoint
of the same method and model settings as the config, else the run would fail late and obscurely
(missing keys, an optimizer state of other shape) or train on with mixed settings."""
import os.path as osp
from typing import Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.runner import find_latest_checkpoint

from ..clip import local_path


def resume_checkpoint(cfg: Config) -> Optional[str]:
    """The file a resumed run reads: ``load_from``, else the work dir's newest checkpoint."""
    if not cfg.get('resume'):
        return None
    path = cfg.get('load_from')
    if path:
        return local_path(path)
    return find_latest_checkpoint(cfg.work_dir) if osp.isdir(cfg.work_dir) else None


def check_resume(cfg: Config) -> None:
    """Refuse a resume whose checkpoint another method or other model settings wrote, naming the
    checkpoint, the differing keys (old and new values) and the fix."""
    path = resume_checkpoint(cfg)
    if path is None:
        return
    if not osp.isfile(path):
        raise FileNotFoundError(f'--resume checkpoint {path!r} does not exist')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=False, mmap=True)
    except Exception:  # noqa: BLE001 - the resume loader names broken files itself
        return
    if not isinstance(ckpt, dict) or 'meta' not in ckpt or 'state_dict' not in ckpt:
        raise ValueError(
            f'--resume {path!r} is not a training checkpoint of tools/train.py (no training state: '
            'it holds weights only). To start training from these weights, set them as the '
            'student\'s weights (model.student.pretrained / checkpoint) and drop --resume.')
    text = (ckpt.get('meta') or {}).get('cfg')
    if not text:
        return
    try:
        saved = Config.fromstring(text, '.py')
    except Exception:  # noqa: BLE001 - an unparsable old config: nothing to compare
        return
    old, new = _model_of(saved), _model_of(cfg)
    fix = (f'Resume with the config (and --cfg-options) that run used, or start this one in another '
           f'--work-dir (the current one holds {osp.basename(path)!r})')
    if old.get('type') != new.get('type'):
        raise ValueError(
            f'--resume {path!r} was written by a {old.get("type")} run, but this config trains '
            f'{new.get("type")}: a checkpoint resumes only the method that wrote it. {fix}.')
    changed = _differences(old, new, 'model')
    if changed:
        shown = '; '.join(f'{k}: {a!r} then, {b!r} now' for k, a, b in changed[:6])
        raise ValueError(
            f'--resume {path!r} was written with other model settings than this config '
            f'({shown}{"; ..." if len(changed) > 6 else ""}); its weights and optimizer state '
            f'belong to those. {fix}.')


def _model_of(cfg: Config) -> Dict:
    """The config's model dict, normalised as a saved config is (pretty_text round trip)."""
    return Config.fromstring(Config(dict(model=cfg.model)).pretty_text, '.py').model.to_dict()


def _differences(old, new, prefix: str) -> List[tuple]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += _differences(old.get(key), new.get(key), f'{prefix}.{key}')
        return out
    return [] if old == new else [(prefix, old, new)]
