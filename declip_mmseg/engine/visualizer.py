"""``tools/test.py --show-dir`` for images of any size and any format Pillow reads."""
import os.path as osp

import mmengine.fileio as fileio
from mmengine.structures import PixelData
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.registry import HOOKS, VISUALIZERS
from mmseg.visualization import SegLocalVisualizer

from ..datasets.loading import read_image


@VISUALIZERS.register_module()
class SegLocalVisualizerAnySize(SegLocalVisualizer):
    """``SegLocalVisualizer`` that also draws 1 x 1 images.

    mmseg indexes a NumPy image with a torch bool mask; a one-element tensor converts to the
    integer 1 there (``__index__``), so a 1 x 1 prediction fails with an IndexError. The map is
    handed over as a NumPy array instead; the drawing is otherwise mmseg's.
    """

    def _draw_sem_seg(self, image, sem_seg: PixelData, classes, palette, with_labels=True):
        as_numpy = PixelData(data=sem_seg.cpu().numpy().data)
        return super()._draw_sem_seg(image, as_numpy, classes, palette, with_labels)


@HOOKS.register_module()
class SegVisualizationHookAnyFormat(SegVisualizationHook):
    """mmseg's ``SegVisualizationHook`` reading the image to draw on as the test pipeline does
    (OpenCV, else Pillow), so GIFs and other formats OpenCV cannot decode are drawn too."""

    def _after_iter(self, runner, batch_idx: int, data_batch: dict, outputs,
                    mode: str = 'val') -> None:
        if not self.draw or mode == 'train' or not self.every_n_inner_iters(batch_idx,
                                                                            self.interval):
            return
        for sample in outputs:
            path = sample.img_path
            rgb = read_image(fileio.get(path, backend_args=self.backend_args), path)[..., ::-1]
            self._visualizer.add_datasample(f'{mode}_{osp.basename(path)}', rgb,
                                            data_sample=sample, show=self.show,
                                            wait_time=self.wait_time, step=runner.iter)
