"""Drawing, shared by ``tools/test.py --show-dir``, ``tools/demo.py`` and the web page."""
from .fonts import FontWarning, legend_fonts
from .label_map import heat_map, read_label_map, write_label_map
from .local_visualizer import SegLocalVisualizerAnySize
from .overlay import draw_overlay, palette, read_rgb
from .vis_backend import SafeLocalVisBackend

__all__ = ['FontWarning', 'SafeLocalVisBackend', 'SegLocalVisualizerAnySize', 'draw_overlay',
           'heat_map', 'legend_fonts', 'palette', 'read_label_map', 'read_rgb', 'write_label_map']
