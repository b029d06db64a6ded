"""The methods the web page offers: every ``demo.py`` config the project ships
(``configs/demo.py`` is ClearCLIP, ``configs/<method>/demo.py`` the others), by its
``demo_name``, with the weight options of tools/demo.py applied and the weight files checked
before anything is built.

Weight options (``--checkpoint``, ``--model``, ``--cfg-options``) apply to the methods whose
CLIP architecture is the one of the ``--config`` the page starts with: ``--checkpoint
ViT-B-16.pt`` serves ClearCLIP, SCLIP, NACLIP, ProxyCLIP and MaskCLIP; DeCLIP and DenseVLM
(EVA02-B/16) keep their own files unless the page starts from one of their configs.
"""
import glob
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional

from mmengine.config import Config

from ..clip import looks_like_path
from .config import load_config, set_checkpoint

CONFIG_ROOT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs')
WEIGHTS_DOC = 'docs/weights_and_data.md'


def demo_configs(root: str = CONFIG_ROOT) -> List[str]:
    """``configs/demo.py`` first, then ``configs/<method>/demo.py`` in folder order."""
    top = osp.join(root, 'demo.py')
    return ([top] if osp.isfile(top) else []) + sorted(glob.glob(osp.join(root, '*', 'demo.py')))


def clip_arch(cfg: Config) -> Optional[str]:
    return cfg.model.get('backbone', {}).get('model_name')


@dataclass
class DemoMethod:
    """One entry of the method choice.

    Attributes:
        name: ``demo_name`` of the config (``'ClearCLIP'``).
        config: the config, with the page's weight options applied when they are its own.
        path: the config file.
    """
    name: str
    config: Config
    path: str

    def weights_key(self) -> tuple:
        """What identifies the weights (the cache of built models is keyed by it)."""
        backbone = self.config.model.get('backbone', {})
        return (backbone.get('model_name'), *self.weight_files(), backbone.get('pretrained'),
                self.config.model.get('checkpoint'))

    def weight_files(self) -> List[str]:
        """Local files the model reads: CLIP weights, a proxy VFM, an embeddings file, an
        architecture JSON."""
        model = self.config.model
        backbone, head = model.get('backbone', {}), model.get('text_classifier', {})
        proxy = backbone.get('proxy') or {}
        found = [model.get('checkpoint'),  # CAT-Seg: the released file holds every weight
                 backbone.get('pretrained'), backbone.get('checkpoint'), proxy.get('weights'),
                 head.get('embeddings_file'), backbone.get('model_name')]
        return [f for f in found if isinstance(f, str) and (
            f.endswith('.json') or looks_like_path(f))]

    def missing_weights(self) -> Optional[str]:
        """None when every weight file is there, else what is missing and where to put it."""
        missing = [f for f in self.weight_files() if not osp.isfile(f)]
        if not missing:
            return None
        where = '; '.join(f'{osp.basename(f)} -> {osp.abspath(f)}' for f in missing)
        return (f'{self.name} needs weight files that are not there: {where}. Download them '
                f'(sources in {WEIGHTS_DOC}) and put them at these paths, or start the page '
                f'with --config {osp.relpath(self.path, osp.dirname(CONFIG_ROOT))} '
                '--checkpoint FILE.')

    def describe(self) -> str:
        """One line: weights, windows, logit scale, threshold, post-processing."""
        model = self.config.model
        backbone = model.get('backbone', {})
        weights = (model.get('checkpoint') or backbone.get('checkpoint')
                   or backbone.get('pretrained'))
        arch = backbone.get('model_name')
        weights, arch = (osp.basename(w) if isinstance(w, str) and looks_like_path(w) else w
                         for w in (weights, arch))
        mode = model.get('inference_mode', 'slide')
        windows = (f"windows {model.get('slide_crop')} / {model.get('slide_stride')}"
                   if mode == 'slide' else 'whole image')
        post = ', '.join(step['type'] for step in model.get('postprocess') or []) or 'none'
        proxy = backbone.get('proxy')
        return (f"{self.name}: {arch} ({weights})"
                + (f", proxy {proxy['vfm']}" if proxy else '')
                + f", {windows}, logit scale {model.get('logit_scale')}, "
                f"prob_thd {model.get('prob_thd')}, post-processing: {post}")


def demo_methods(config: Optional[str] = None, checkpoint: Optional[str] = None,
                 model_name: Optional[str] = None, cfg_options: Optional[dict] = None,
                 root: str = CONFIG_ROOT) -> Dict[str, DemoMethod]:
    """``{demo_name: DemoMethod}``, the start config's method first. ``config`` may be any
    demo config (default ``configs/demo.py``); the weight options apply to it and to every
    method on the same CLIP architecture (see the module docstring)."""
    paths = demo_configs(root)
    config = osp.abspath(config) if config else paths[0]
    if config not in paths:
        paths.insert(0, config)
    start = load_config(config)
    start_arch = clip_arch(start)
    methods = {}
    for path in [config] + [p for p in paths if p != config]:
        cfg = start if path == config else load_config(path)
        name = cfg.get('demo_name') or osp.basename(osp.dirname(path))
        if name in methods:
            raise ValueError(f'{path}: demo_name {name!r} is already used by '
                             f'{methods[name].path}; every demo config needs its own')
        if path == config or clip_arch(cfg) == start_arch:
            if cfg_options:
                cfg.merge_from_dict(cfg_options)
            if checkpoint is not None:
                set_checkpoint(cfg, checkpoint)
            if model_name is not None:
                cfg.model.backbone.model_name = model_name
                cfg.model.text_classifier.pop('model_name', None)
        methods[name] = DemoMethod(name, cfg, path)
    return methods
