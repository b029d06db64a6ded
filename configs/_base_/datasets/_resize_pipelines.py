# Test pipelines by resize rule, for configs that differ from _clip_test_loader.py's short side
# 448: `test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_336}}))`.
# Resize(scale=(long_max, short), keep_ratio=True): the short side becomes `short` unless the
# long side would pass `long_max`; labels stay at the original size.


def _pipeline(scale):
    return [
        dict(type='LoadImageWithPillowFallback'),  # OpenCV, else Pillow (GIF, ...)
        dict(type='Resize', scale=scale, keep_ratio=True),
        dict(type='LoadAnnotationsKeepShape'),  # label maps of any size, 1x1 included
        dict(type='PackSegInputs'),
    ]


short_side_336 = _pipeline((2048, 336))   # SCLIP, NACLIP, ProxyCLIP
short_side_448 = _pipeline((2048, 448))   # SCLIP COCO-Stuff; ProxyCLIP ADE, Cityscapes
short_side_512 = _pipeline((2048, 512))   # MaskCLIP (mmseg 0.x img_scale=(2048, 512))
short_side_560 = _pipeline((2048, 560))   # SCLIP, NACLIP Cityscapes
maskclip_context = _pipeline((520, 520))  # MaskCLIP PASCAL Context: long side 520
maskclip_city = _pipeline((1024, 512))    # MaskCLIP Cityscapes: 1024 x 512
del _pipeline
