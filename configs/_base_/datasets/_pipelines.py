# Every test pipeline, by resize rule. Resize(scale=(long_max, short), keep_ratio=True): the short
# side becomes `short` unless the long side would pass `long_max`; labels are loaded after the
# resize, so they stay at the original size. The dataset bases use short_side_448
# (_clip_test_loader.py); a config with another rule sets
# `test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_336}}))`.


def _test_pipeline(scale, labels=True):
    steps = [dict(type='LoadImageWithPillowFallback'),  # OpenCV, else Pillow (GIF, ...)
             dict(type='Resize', scale=scale, keep_ratio=True)]
    if labels:  # label maps of any size, 1x1 included
        steps.append(dict(type='LoadAnnotationsKeepShape'))
    return steps + [dict(type='PackSegInputs')]


short_side_336 = _test_pipeline((2048, 336))   # SCLIP, NACLIP, ProxyCLIP
# ClearCLIP; SCLIP COCO-Stuff; ProxyCLIP ADE, Cityscapes; DeCLIP COCO-Object
short_side_448 = _test_pipeline((2048, 448))
short_side_512 = _test_pipeline((2048, 512))   # MaskCLIP (mmseg 0.x img_scale=(2048, 512))
short_side_560 = _test_pipeline((2048, 560))   # SCLIP, NACLIP Cityscapes
maskclip_context = _test_pipeline((520, 520))  # MaskCLIP PASCAL Context: long side 520
maskclip_city = _test_pipeline((1024, 512))    # MaskCLIP Cityscapes: 1024 x 512
declip_448 = _test_pipeline((4096, 448))       # DeCLIP: short side 448, long side at most 4096
declip_560 = _test_pipeline((4096, 560))       # DeCLIP Cityscapes
# single images without labels (tools/demo.py, tools/web_demo.py), each method's short side
demo_336 = _test_pipeline((2048, 336), labels=False)   # SCLIP, NACLIP, ProxyCLIP
demo_448 = _test_pipeline((2048, 448), labels=False)   # ClearCLIP (configs/demo.py)
demo_512 = _test_pipeline((2048, 512), labels=False)   # MaskCLIP
demo_declip_448 = _test_pipeline((4096, 448), labels=False)  # DeCLIP, DenseVLM
catseg_test = _test_pipeline((2560, 640))  # CAT-Seg: short side 640, long side at most 2560
catseg_demo = _test_pipeline((2560, 640), labels=False)  # the same for tools/demo.py
# CAT-Seg training (MaskFormerSemanticDatasetMapper's augmentations): short side 384 (long at most
# 1333), 384x384 random crop (no category constraint), SSD colour jitter (brightness 32, contrast
# and saturation 0.5-1.5, hue 18), horizontal flip, padding to 384 (image 128, label 255).
catseg_coco_train = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1333, 384), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(384, 384), cat_max_ratio=1.0),
    dict(type='PhotoMetricDistortion', brightness_delta=32, contrast_range=(0.5, 1.5),
         saturation_range=(0.5, 1.5), hue_delta=18),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=(384, 384), pad_val=dict(img=128, seg=255)),
    dict(type='PackSegInputs'),
]
del _test_pipeline
