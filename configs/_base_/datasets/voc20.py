# PascalVOC20Dataset: PASCAL VOC 2012 val without background, 20 classes
_base_ = ['./_clip_test_loader.py']
test_dataloader = dict(dataset=dict(
    type='PascalVOC20Dataset', data_root='data/VOCdevkit/VOC2012',
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    ann_file='ImageSets/Segmentation/val.txt'))
