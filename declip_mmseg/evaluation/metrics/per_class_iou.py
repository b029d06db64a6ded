"""IoUMetric that keeps its per-class IoU for reports (eval_all's second sheet) and checks
the label maps it is given."""
import logging
import os.path as osp
from typing import Dict, Sequence

import torch
from mmengine.logging import print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    """mmseg's IoUMetric; after ``evaluate`` the rank that computed the
    metrics also holds ``per_class_iou``: ``{class name: IoU in %}``.

    Two checks mmseg does not make:

    * a label map whose size differs from its image's is an error naming both
      files and both sizes (mmseg fails with an ``IndexError`` about masks);
    * label values that are neither a class (``0 .. C-1``) nor the ignore
      index count as wrong predictions of every class and silently lower IoU:
      they are counted, and one warning per evaluation names a file;
    * label maps with no labelled pixel (all ignore index) are counted: a warning names one,
      and an error is raised if no label map of the set holds a labelled pixel.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.per_class_iou: Dict[str, float] = {}

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            if self.format_only or 'gt_sem_seg' not in sample:
                continue
            pred = sample['pred_sem_seg']['data'].squeeze()
            label = sample['gt_sem_seg']['data'].squeeze()
            if label.dim() == pred.dim() + 1 and label.shape[-1] in (3, 4):
                raise ValueError(
                    f"label map {sample.get('seg_map_path')!r} is a colour image "
                    f'({label.shape[-1]} channels); label maps hold one class id per pixel '
                    '(a grey or palette PNG). Convert it with the conversion script of the '
                    'dataset (README.md, Data) instead of saving the colour rendering.')
            if pred.shape != label.shape:
                raise ValueError(
                    f"label map {sample.get('seg_map_path')!r} is {_size(label.shape)} but its "
                    f"image {sample.get('img_path')!r} is {_size(pred.shape)} (width x height); "
                    'every label map must have the size of its image. Fix or remove this pair.')
            if not (label != self.ignore_index).any():
                self.results.append(dict(no_labelled_pixel=True,
                                         seg_map_path=sample.get('seg_map_path')))
            outside = (label != self.ignore_index) & ((label < 0) | (label >= num_classes))
            if outside.any():
                values = torch.unique(label[outside]).tolist()
                self.results.append(dict(outside_pixels=int(outside.sum()), values=values,
                                         seg_map_path=sample.get('seg_map_path')))
        super().process(data_batch, data_samples)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        notes = [r for r in results if isinstance(r, dict)]
        num_images = len(results) - len(notes)
        empty = [r['seg_map_path'] for r in notes if r.get('no_labelled_pixel')]
        if empty:
            self._check_unlabelled(empty, num_images)
        bad = [r for r in notes if 'outside_pixels' in r]
        if bad:
            self._warn_outside_labels(bad, num_images)
        return super().compute_metrics([r for r in results if not isinstance(r, dict)])

    def _check_unlabelled(self, paths: list, num_images: int) -> None:
        """Label maps with no labelled pixel (all ignore index). A few are normal in real sets
        (photos with nothing annotated) and add nothing to the scores: a warning. If no label
        map holds a labelled pixel, every score is 0 or NaN: an error (wrong label format)."""
        hint = (f'Check the label format: class ids 0-{len(self.dataset_meta["classes"]) - 1} '
                f'in label order, the ignore index {self.ignore_index}, reduce_zero_label (it '
                'turns 0 into the ignore index), the conversion script in datasets/')
        if len(paths) >= num_images:
            raise ValueError(
                f'none of the {num_images} label maps holds a labelled pixel: every pixel is the '
                f'ignore index {self.ignore_index} (e.g. {paths[0]!r}), so the scores would mean '
                f'nothing. {hint}.')
        print_log(f'{len(paths)} of {num_images} label maps hold no labelled pixel (every pixel '
                  f'is the ignore index {self.ignore_index}), e.g. {paths[0]!r}; they add nothing '
                  f'to the scores. If they should hold labels: {hint}.',
                  logger='current', level=logging.WARNING)

    def _warn_outside_labels(self, bad: list, num_images: int) -> None:
        num_classes = len(self.dataset_meta['classes'])
        values = sorted({v for r in bad for v in r['values']})
        first = bad[0]
        print_log(
            f"{len(bad)} of {num_images} label maps hold {sum(r['outside_pixels'] for r in bad)} "
            f'pixels with values outside the {num_classes} classes (0-{num_classes - 1}) that '
            f'are not the ignore index {self.ignore_index}: values {values[:10]}'
            f"{' ...' if len(values) > 10 else ''}, e.g. {first['values'][:5]} in "
            f"{first['seg_map_path']!r}. These pixels lower the IoU of the classes predicted "
            'there. Check the label format: class ids in label order, the ignore index, '
            "reduce_zero_label, the conversion script in datasets/ (labels of "
            f"{osp.dirname(first['seg_map_path'] or '') or '?'}).",
            logger='current', level=logging.WARNING)

    def total_area_to_metrics(self, *args, **kwargs):
        metrics = IoUMetric.total_area_to_metrics(*args, **kwargs)
        if 'IoU' in metrics:
            names = self.dataset_meta['classes']
            self.per_class_iou = {name: round(float(v) * 100, 2)
                                  for name, v in zip(names, metrics['IoU'])}
        return metrics


def _size(shape) -> str:
    return f'{shape[-1]} x {shape[-2]}' if len(shape) >= 2 else str(tuple(shape))
