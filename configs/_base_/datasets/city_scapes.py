# CityscapesDataset: Cityscapes val, 19 classes
_base_ = ['./_clip_test_loader.py']
test_dataloader = dict(dataset=dict(
    type='CityscapesDataset', data_root='data/cityscapes',
    data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val')))
