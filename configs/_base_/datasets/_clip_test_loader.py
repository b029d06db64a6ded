# Shared by the dataset bases: batch 1, images resized to short side 448 (long side at most
# 2048), labels kept at the original size (LoadAnnotations after Resize).
test_pipeline = [
    dict(type='LoadImageWithPillowFallback'),  # OpenCV, else Pillow (GIF, ...)
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    dict(type='LoadAnnotationsKeepShape'),  # label maps of any size, 1x1 included
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=test_pipeline))
