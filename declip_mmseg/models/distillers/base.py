"""DistillerBase: what every distillation method shares.

A student CLIP image tower (:class:`DenseCLIPViT`), which of its parameters train, the frozen
teachers (attached by :class:`declip_mmseg.engine.DistillHook` and kept out of the module
tree, so checkpoints hold the student only), ``predict()``: region classification with the
student's dense features (the validation of DeCLIP and DenseVLM), and :meth:`export`: the
student as a whole CLIP file. A method subclasses it and defines ``attach_teachers`` and
``loss``; one file per method in this package.

The CLIP is built once: its image tower becomes the student, a frozen copy of that tower (the
initial weights) is kept for the teachers and the export, and its text tower serves the
validation classifier, the methods' text embeddings and the export.
"""
import contextlib
import copy
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel

from ...clip import blend, save_clip, weight_source
from ...text import TextEncoder
from ..builder import build_dense_backbone, build_text_classifier
from ..heads.region_classifier import classify_regions


class DistillerBase(BaseModel):
    """Student CLIP image tower, frozen teachers, region-classification ``predict``.

    Args:
        student: :class:`DenseCLIPViT` config (weights, dense path of the last block).
        unlocked_blocks: how many of the last transformer blocks train (None: all). Parts
            outside the blocks (patch embedding, positions, final norm, projection) stay
            frozen, and so do block parameters the method's dense path never uses (found by
            probing one tiny forward / backward, see :meth:`probe`).
        val_text_classifier: :class:`ZeroShotTextClassifier` config with the validation
            categories (region classification); ``model_name`` etc. default to the student's.
        val_attn_mode: attention mode of the last block during validation (None: the
            student's own).
        normalize_tokens: L2-normalize every token of the dense map before pooling
            (EVA-CLIP's ``encode_dense`` in CLIPSelf / DenseVLM); DeCLIP pools raw features.
    """

    def __init__(self, student: dict, unlocked_blocks: Optional[int] = None,
                 val_text_classifier: Optional[dict] = None, val_attn_mode: Optional[str] = None,
                 normalize_tokens: bool = False, data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor or dict(type='BaseDataPreprocessor'),
                         init_cfg=init_cfg)
        self.student, text_clip = build_dense_backbone(student)
        # kept out of the module tree (no checkpoint entries, no DDP parameters):
        # the initial image tower, frozen, and the text tower of the same CLIP
        self._frozen: Dict[str, nn.Module] = dict(
            initial_tower=copy.deepcopy(self.student.tower.visual).requires_grad_(False).eval())
        self.text_encoder = TextEncoder(**weight_source(student), clip=text_clip)
        self.val_attn_mode = val_attn_mode
        self.normalize_tokens = bool(normalize_tokens)
        self.val_text_classifier = None
        if val_text_classifier is not None:
            self.val_text_classifier = build_text_classifier(val_text_classifier, student,
                                                             text_clip)
            self.val_text_classifier.requires_grad_(False)
        self._teachers: Dict[str, nn.Module] = {}
        self.freeze(unlocked_blocks)

    # -- what trains ---------------------------------------------------------
    def blocks(self) -> nn.ModuleList:
        tower = self.student.tower
        return tower.trunk.blocks if hasattr(tower, 'trunk') else tower.visual.transformer.resblocks

    def probe(self, content: torch.Tensor, context: Dict[str, torch.Tensor]) -> torch.Tensor:
        """A scalar of every student output the losses use (default: the dense map)."""
        return content.sum()

    def freeze(self, unlocked_blocks: Optional[int]) -> None:
        """Train only the last ``unlocked_blocks`` blocks, minus parameters that get no
        gradient from the losses (found by probing one tiny forward / backward)."""
        self.student.requires_grad_(False)
        blocks = self.blocks()
        n = len(blocks) if unlocked_blocks is None else int(unlocked_blocks)
        if not 0 < n <= len(blocks):
            raise ValueError(f'unlocked_blocks must be in 1..{len(blocks)}, got {unlocked_blocks}')
        for blk in blocks[len(blocks) - n:]:
            blk.requires_grad_(True)
        p = self.student.patch_size
        used = self.probe(*self.student(torch.zeros(1, 3, 2 * p, 2 * p)))
        params = [q for q in self.student.parameters() if q.requires_grad]
        grads = torch.autograd.grad(used, params, allow_unused=True)
        for param, grad in zip(params, grads):
            if grad is None:
                param.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.val_text_classifier is not None:
            self.val_text_classifier.eval()
        return self

    # -- teachers --------------------------------------------------------------
    def initial_image_tower(self) -> nn.Module:
        """The student's image tower as built, before any training, frozen (crops -> image
        embeddings): the teacher of DeCLIP's content loss and of CLIPSelf. A resumed run has
        the same one as a fresh run (the checkpoint only loads the student)."""
        return self._frozen['initial_tower']

    def attach_teachers(self, device: torch.device, **specs) -> None:
        """Build the frozen teachers on ``device`` (called by ``DistillHook.before_train``
        with the hook's ``teachers`` dict) and :meth:`set_teachers` them."""
        raise NotImplementedError

    def set_teachers(self, **modules: Optional[nn.Module]) -> None:
        """Attach frozen teacher modules by name (not registered as submodules)."""
        for module in modules.values():
            if isinstance(module, nn.Module):
                module.requires_grad_(False)
                module.eval()
        self._teachers = dict(modules)

    def get_teacher(self, name: str = 'teacher'):
        if name not in self._teachers:
            raise RuntimeError(f'no {name} attached: {type(self).__name__} trains with a '
                               "DistillHook in the config's custom_hooks")
        return self._teachers[name]

    @property
    def teacher(self) -> nn.Module:
        return self.get_teacher('teacher')

    def describe(self) -> str:
        """One line for the training log."""
        return type(self).__name__

    def check_inputs(self, dataset, key: str = 'train_dataloader.dataset') -> None:
        """Before the first step (``DistillHook.before_train``): the dataset's sizes fit the
        student and the teachers, else a ``ValueError`` naming the config key, its value and the
        value that works (instead of a shape error in the first step).

        * ``image_size`` a multiple of the student's patch size, ``student_patch`` equal to it;
        * ``crop_size`` (when the dataset cuts crops for the initial image tower, the crop
          teacher) equal to that tower's input size: its positions are fixed.
        """
        p = self.student.patch_size
        size = getattr(dataset, 'image_size', None)
        if size is not None and size % p:
            raise ValueError(f'{key}.image_size={size} is not a multiple of the student\'s patch '
                             f'size {p}; use e.g. {size // p * p} or {(size // p + 1) * p}')
        student_patch = getattr(dataset, 'student_patch', None)
        if student_patch is not None and student_patch != p:
            raise ValueError(f'{key}.student_patch={student_patch}, but the student '
                             f'({type(self.student.tower.visual).__name__}) has {p}-pixel patches; '
                             f'set {key}.student_patch={p}')
        crop = getattr(dataset, 'crop_size', None) if getattr(dataset, 'with_crops', False) else None
        native = fixed_input_size(self.initial_image_tower())
        if crop is not None and native is not None and crop != native:
            raise ValueError(f'{key}.crop_size={crop}, but the crop teacher (the initial CLIP image '
                             f'tower) takes {native} x {native} images only; set '
                             f'{key}.crop_size={native}')

    # -- dense features ----------------------------------------------------------
    def dense(self, inputs: torch.Tensor):
        """Student ``(content, context)``; content token-normalized if ``normalize_tokens``."""
        content, context = self.student(inputs)
        if self.normalize_tokens:
            content = F.normalize(content, dim=1)
        return content, context

    # -- mmengine API ------------------------------------------------------------
    def forward(self, inputs: torch.Tensor, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return self.student(inputs)

    def loss(self, inputs: torch.Tensor, data_samples) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def predict(self, inputs: torch.Tensor, data_samples=None):
        """Region classification of the validation regions (see ``DenseRegionClassifier``)."""
        if self.val_text_classifier is None:
            raise RuntimeError('validation needs val_text_classifier (the category names)')
        if isinstance(inputs, (list, tuple)):  # pseudo_collate keeps images in a list
            inputs = torch.stack(list(inputs))
        with torch.no_grad(), self._val_attn_mode():
            content, _ = self.dense(inputs)
        clf = self.val_text_classifier
        return classify_regions(content, data_samples, clf.query_embeddings, clf.query_to_class)

    @contextlib.contextmanager
    def _val_attn_mode(self):
        saved = self.student.attn_mode
        self.student.attn_mode = self.val_attn_mode or saved
        try:
            yield
        finally:
            self.student.attn_mode = saved

    # -- export ------------------------------------------------------------------
    def export(self, path: str, alpha: Optional[float] = None) -> str:
        """Save the student as a whole CLIP in open_clip format (text tower: the base
        weights'), optionally blended ``alpha * student + (1 - alpha) * initial`` (DeCLIP's and
        DenseVLM's weight ensembling at save time). Loads with
        ``DenseCLIPViT(model_name, pretrained=path)`` and plain open_clip."""
        trained = {k: v.detach().cpu() for k, v in self.student.tower.visual.state_dict().items()}
        initial = {k: v.detach().cpu() for k, v in self.initial_image_tower().state_dict().items()}
        return save_clip(self.text_encoder.text_tower(), blend(trained, initial, alpha), path)


def fixed_input_size(visual: nn.Module) -> Optional[int]:
    """The one input side an open_clip image tower takes (224 for B/16, 336 for L/14-336):
    ``image_size`` of open_clip's ViT, the patch embedding's of a timm trunk; None if it
    takes any size."""
    size = getattr(visual, 'image_size', None)
    if size is None:
        embed = getattr(getattr(visual, 'trunk', None), 'patch_embed', None)
        if embed is None or getattr(embed, 'dynamic_img_size', False) or \
                not getattr(embed, 'strict_img_size', True):
            return None
        size = getattr(embed, 'img_size', None)
    if size is None:
        return None
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def valid_boxes(boxes: torch.Tensor):
    """(B, K, 5+) box rows with the valid flag last -> per-image (n_i, 4) xyxy and the mask."""
    keep = boxes[..., -1] > 0.5
    return [b[k, :4] for b, k in zip(boxes, keep)], keep
