"""Drawing, shared by ``tools/test.py --show-dir``, ``tools/demo.py`` and the web page."""
from .fonts import FontWarning, legend_fonts
from .local_visualizer import SegLocalVisualizerAnySize
from .overlay import draw_overlay, palette, read_rgb

__all__ = ['FontWarning', 'SegLocalVisualizerAnySize', 'draw_overlay', 'legend_fonts', 'palette',
           'read_rgb']
