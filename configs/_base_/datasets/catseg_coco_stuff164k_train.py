# COCO-Stuff 164k train2017 for CAT-Seg training (171 classes, CAT-Seg's prepare_coco_stuff.py
# layout), with MaskFormerSemanticDatasetMapper's augmentations: short side 384 (long at most
# 1333), 384x384 random crop (no category constraint), SSD colour jitter (brightness 32, contrast
# and saturation 0.5-1.5, hue 18), horizontal flip, padding to 384 (image 128, label 255).
# Validation: COCO-Stuff val2017 (catseg_coco_stuff164k.py).
_base_ = ['./catseg_coco_stuff164k.py']
train_pipeline = [
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
train_dataloader = dict(
    batch_size=1,  # per GPU: 4 GPUs x 1 = CAT-Seg's total batch of 4
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='BaseSegDataset',
        data_root='data/coco-stuff',
        data_prefix=dict(img_path='images/train2017', seg_map_path='annotations_detectron2/train2017'),
        img_suffix='.jpg', seg_map_suffix='.png',
        metainfo={{_base_.test_dataloader.dataset.metainfo}},
        pipeline=train_pipeline))
