# COCOObjectDataset: COCO-Object val (datasets/cvt_coco_object.py), 80 things + background
_base_ = ['./_clip_test_loader.py']
test_dataloader = dict(dataset=dict(
    type='COCOObjectDataset', data_root='data/coco_stuff164k',
    data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
    reduce_zero_label=False))
