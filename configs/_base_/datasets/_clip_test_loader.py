# Shared by the dataset bases: batch 1, images resized to short side 448 (long side at most
# 2048), labels kept at the original size (LoadAnnotations after Resize).
_base_ = ['./_pipelines.py']
test_pipeline = {{_base_.short_side_448}}
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=test_pipeline))
