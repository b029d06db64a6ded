"""``tools/test.py --show-dir`` for images in any format the test pipeline reads."""
import os.path as osp

import mmengine.fileio as fileio
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.registry import HOOKS

from ...datasets.transforms.loading import read_image


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
