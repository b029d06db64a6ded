# PascalVOCDataset: PASCAL VOC 2012 val, 21 classes with background
_base_ = ['./_clip_test_loader.py']
test_dataloader = dict(dataset=dict(
    type='PascalVOCDataset', data_root='data/VOCdevkit/VOC2012',
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    ann_file='ImageSets/Segmentation/val.txt'))
