"""mmseg's local visualizer for images of any size (``tools/test.py --show-dir``)."""
from mmengine.structures import PixelData
from mmseg.registry import VISUALIZERS
from mmseg.visualization import SegLocalVisualizer


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
