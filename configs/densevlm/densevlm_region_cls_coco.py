# DenseVLM's region classification (Table 1, COCO columns): COCO panoptic val2017, 133 classes,
# 512 px input (long side, right / bottom zero padding); ground-truth boxes for things and tight
# mask boxes for stuff pooled by a 1x1 RoIAlign ('rois'), masks on the 32 x 32 token grid
# mask-pooled ('maskpool'), both from EVA-CLIP's encode_dense (last block without attention,
# normalized tokens); cosine to the class embeddings; mean per-class top-1 / top-5 accuracy (%),
# things and stuff apart: rois.thing.macc1 (Boxes), maskpool.thing.macc1 (Masks-T),
# maskpool.stuff.macc1 (Masks-S), ...
#   python tools/test.py configs/densevlm/densevlm_region_cls_coco.py --checkpoint FILE
# Otherwise as configs/declip/declip_region_cls_coco.py.
_base_ = ['../declip/declip_region_cls_coco.py', '../_base_/models/densevlm_eva02_b16.py']

image_size = 512

model = dict(
    normalize_tokens=True,
    backbone={{_base_.densevlm_backbone}},
    # DenseVLM's metadata/coco_panoptic_clip_hand_craft_EVACLIP_ViTB16.npy instead:
    # text_classifier=dict(embeddings_file='metadata/coco_panoptic_clip_hand_craft_EVACLIP_ViTB16.npy')
    text_classifier=dict(templates='densevlm_hand_craft'),
)
test_dataloader = dict(dataset=dict(image_size=image_size, patch_size=16))
test_evaluator = dict(key_format='{method}.{kind}.macc{k}', half_precision_per_class=True)
