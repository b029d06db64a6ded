"""Mean class accuracy of region classification, things and stuff apart (DeCLIP's validation,
DenseVLM's Table 1)."""
import logging
import math
from typing import Dict, List, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS


def mean_class_accuracy(correct: torch.Tensor, labels: torch.Tensor,
                        half_precision_per_class: bool = False) -> float:
    """Accuracy of each class present in ``labels``, averaged; in [0, 1], NaN if empty.

    ``correct`` (N,) bool/float per region, ``labels`` (N,) long.
    ``half_precision_per_class``: round every class's accuracy to float16 before averaging,
    as DenseVLM's ``macc_with_is_thing`` does (``.half().item()``).
    """
    if labels.numel() == 0:
        return float('nan')
    classes, inverse = labels.unique(return_inverse=True)
    hits = torch.zeros(len(classes), dtype=torch.float64).index_add_(0, inverse, correct.double())
    counts = torch.bincount(inverse, minlength=len(classes)).double()
    per_class = hits / counts
    if half_precision_per_class:
        per_class = per_class.half().double()
    return float(per_class.mean())


@METRICS.register_module()
class RegionClassificationMetric(BaseMetric):
    """Top-1 / top-5 mean class accuracy (%) of region logits.

    Expects model outputs (one dict per image) with ``labels`` (N,),
    ``is_thing`` (N,) and, per method in ``methods``, ``<method>_logits``
    (N, C).  Reports ``<method>_<thing|stuff>_top<k>`` for k in ``topk``:
    per-class accuracy averaged over the classes present (DeCLIP's ``macc``),
    NaN (with a warning) when no region of that kind was evaluated.

    Args:
        methods: pooling methods to score (keys ``<method>_logits``).
        topk: the k of the top-k accuracies (clipped to the number of classes).
        key_format: names of the results; DenseVLM's are ``'{method}.{kind}.macc{k}'``
            (``rois.thing.macc1``, ``maskpool.stuff.macc5``, ...).
        half_precision_per_class: DenseVLM's float16 rounding of each class's accuracy.
    """
    default_prefix = ''  # keys as listed above; pass prefix='...' for 'prefix/key'

    def __init__(self, methods: Sequence[str] = ('rois', 'maskpool'), topk: Sequence[int] = (1, 5),
                 key_format: str = '{method}_{kind}_top{k}',
                 half_precision_per_class: bool = False,
                 collect_device: str = 'cpu', prefix=None, **kwargs):
        super().__init__(collect_device=collect_device, prefix=prefix, **kwargs)
        self.key_format = key_format
        self.half_precision_per_class = bool(half_precision_per_class)
        self.methods = tuple(methods)
        self.topk = tuple(int(k) for k in topk)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep, per image, which regions are right within top-k (small CPU tensors)."""
        for sample in data_samples:
            labels = sample['labels'].detach().cpu().long()
            result = dict(labels=labels, is_thing=sample['is_thing'].detach().cpu().bool())
            for method in self.methods:
                logits = sample[f'{method}_logits'].detach().float().cpu()
                self._check_classes(logits)
                k = min(max(self.topk), logits.shape[1])
                top = logits.topk(k, dim=1).indices == labels[:, None]        # (N, k)
                for kk in self.topk:
                    result[f'{method}_top{kk}'] = top[:, :kk].any(dim=1)
            self.results.append(result)

    def _check_classes(self, logits: torch.Tensor) -> None:
        classes = (self.dataset_meta or {}).get('classes')
        if classes is not None and logits.shape[1] != len(classes):
            raise ValueError(
                f'the model scores {logits.shape[1]} classes but the dataset has {len(classes)}: '
                "set model.text_classifier.class_names to the dataset's class names in label "
                'order (configs/class_names/coco_panoptic.txt for COCO panoptic, '
                'configs/class_names/ade20k.txt for ADE20K panoptic)')

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            results = [dict(labels=torch.zeros(0, dtype=torch.long),
                            is_thing=torch.zeros(0, dtype=torch.bool),
                            **{f'{m}_top{k}': torch.zeros(0, dtype=torch.bool)
                               for m in self.methods for k in self.topk})]
        labels = torch.cat([r['labels'] for r in results])
        is_thing = torch.cat([r['is_thing'] for r in results])
        metrics = {}
        for method in self.methods:
            for kind, keep in (('thing', is_thing), ('stuff', ~is_thing)):
                for k in self.topk:
                    correct = torch.cat([r[f'{method}_top{k}'] for r in results])
                    acc = mean_class_accuracy(correct[keep], labels[keep],
                                              self.half_precision_per_class)
                    key = self.key_format.format(method=method, kind=kind, k=k)
                    metrics[key] = round(acc * 100, 2) \
                        if not math.isnan(acc) else acc
        for kind, keep in (('thing', is_thing), ('stuff', ~is_thing)):
            if not keep.any():
                print_log(f'no {kind} region was evaluated: its accuracies are NaN',
                          logger='current', level=logging.WARNING)
        return metrics
