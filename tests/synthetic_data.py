"""The synthetic benchmark writers live in the package (tools/selfcheck.py uses them too)."""
from declip_mmseg.testing.synthetic_data import (COCO_IDS, LAYOUTS, VOC_PALETTE,  # noqa: F401
                                                 make_ade, make_cityscapes, make_coco_stuff,
                                                 make_context, make_voc)
