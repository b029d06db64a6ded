# ADE20KDataset: ADE20K val, 150 classes
_base_ = ['./_clip_test_loader.py']
test_dataloader = dict(dataset=dict(
    type='ADE20KDataset', data_root='data/ade/ADEChallengeData2016',
    data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation')))
