# PascalContextDataset: PASCAL Context val, 60 classes with background
_base_ = ['./_clip_test_loader.py']
test_dataloader = dict(dataset=dict(
    type='PascalContextDataset', data_root='data/VOCdevkit/VOC2010',
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
    ann_file='ImageSets/SegmentationContext/val.txt'))
