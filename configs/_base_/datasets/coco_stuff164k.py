# COCOStuffDataset: COCO-Stuff164k val, 171 classes
_base_ = ['./_clip_test_loader.py']
test_dataloader = dict(dataset=dict(
    type='COCOStuffDataset', data_root='data/coco_stuff164k',
    data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017')))
