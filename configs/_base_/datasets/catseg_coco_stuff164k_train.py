# COCO-Stuff 164k train2017 for CAT-Seg training (171 classes, CAT-Seg's prepare_coco_stuff.py
# layout), with CAT-Seg's augmentations (catseg_coco_train in _pipelines.py).
# Validation: COCO-Stuff val2017 (catseg_coco_stuff164k.py).
_base_ = ['./catseg_coco_stuff164k.py']
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
        pipeline={{_base_.catseg_coco_train}}))
