# DenseVLM's region classification on ADE20K panoptic val (Table 1, ADE columns; 150 classes),
# otherwise as configs/densevlm/densevlm_region_cls_coco.py. Make the annotations once with
#   python datasets/prepare_ade20k_panoptic.py data/ade/ADEChallengeData2016
#   python tools/test.py configs/densevlm/densevlm_region_cls_ade.py --checkpoint FILE
_base_ = ['./densevlm_region_cls_coco.py']

# DenseVLM's ADE20K names (its tools/openseg_classes.py ADE20K_150_CATEGORIES), each line one
# name with its synonyms, embedded whole as DenseVLM's generator does; or DenseVLM's own file:
# text_classifier=dict(embeddings_file='metadata/ade_panoptic_clip_hand_craft_EVACLIP_ViTB16.npy')
model = dict(text_classifier=dict(
    class_names='{{fileDirname}}/../class_names/densevlm/ade20k_panoptic.txt', split_synonyms=False))
# every key of the COCO dataset replaced
test_dataloader = dict(dataset=dict(
    type='ADE20KPanopticRegionDataset', data_root='data/ade/ADEChallengeData2016',
    ann_file='ade20k_panoptic_val.json', img_dir='images/validation',
    seg_dir='ade20k_panoptic_val', image_size={{_base_.image_size}}, patch_size=16,
    max_regions=100, test_mode=True))
