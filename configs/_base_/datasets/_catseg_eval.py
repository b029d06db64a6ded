# What every CAT-Seg evaluation set shares: one image per batch through CAT-Seg's protocol
# (catseg_test), and the same resize without labels for tools/demo.py and the web page
# (catseg_demo). Each catseg_<dataset>.py adds its folders, label suffix, ignore index and classes.
_base_ = ['./_pipelines.py']
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='BaseSegDataset', img_suffix='.jpg', pipeline={{_base_.catseg_test}}))
test_pipeline = {{_base_.catseg_demo}}
