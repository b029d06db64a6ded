# COCO panoptic val2017 as regions (133 classes, things and stuff): the validation set of the
# distillation configs (coco_panoptic_regions_val.py) and the test set of the region-
# classification configs (configs/declip/declip_region_cls_coco.py and those inheriting it).
# Images are resized to image_size on the long side; patch_size must equal the backbone's
# (masks are given at the feature grid).
coco_panoptic_regions = dict(
    type='COCOPanopticRegionDataset',
    data_root='data/coco',
    ann_file='annotations/panoptic_val2017.json',
    img_dir='val2017',
    seg_dir='annotations/panoptic_val2017',
    image_size=560,
    patch_size=16)
# as a test set: at most 100 regions per image
coco_panoptic_regions_test = dict(coco_panoptic_regions, max_regions=100, test_mode=True)
