# PascalContextDataset59: PASCAL Context val without background, 59 classes
_base_ = ['./_clip_test_loader.py']
test_dataloader = dict(dataset=dict(
    type='PascalContextDataset59', data_root='data/VOCdevkit/VOC2010',
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
    ann_file='ImageSets/SegmentationContext/val.txt'))
