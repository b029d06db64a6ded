# RegionCLIP mode of DenseVLM's code base (scripts/train_regionclip_coco_eva_vitb16.sh): boxes
# pseudo-labelled with 4764 concepts (CLIPSelf's data/coco/coco_pseudo_4764.json, the first 20
# per image), RoI features of the student's dense map, binary cross-entropy against the noun
# embeddings over 100 sampled classes (all classes of the batch + random others), logits scaled
# by the model's own logit scale; exported as 0.7 * trained + 0.3 * initial.
#   python tools/train.py configs/regionclip_coco.py
_base_ = ['./densevlm_coco.py']

model = dict(
    _delete_=True,
    type='RegionCLIPDistiller',
    student=dict(type='DeCLIPViT', model_name='EVA02-B-16', pretrained={{_base_.eva_base}},
                 attn_mode='identity', residual=True, ffn=True),
    # metadata/coco_pseudo_4764_clip_hand_craft_EVACLIP_ViTB16.npy when you have it; None embeds
    # the file's category names with the student's text tower (63 hand-crafted prompts, cached)
    text_embeddings=None,
    templates='densevlm_hand_craft',
    num_sample_classes=100,
    loss_contrast_weight=1.0,
    unlocked_blocks=None,
    normalize_tokens=True,
    val_text_classifier=dict(type='ZeroShotTextClassifier',
                             class_names='{{fileDirname}}/class_names/coco_panoptic.txt',
                             templates='densevlm_hand_craft'),
)
train_dataloader = dict(dataset=dict(
    _delete_=True, type='RegionCLIPDataset', data_root={{_base_.data_root}},
    ann_file='coco_pseudo_4764.json', img_dir='train2017', image_size={{_base_.image_size}},
    max_boxes=20, seed=0))
custom_hooks = [dict(type='DistillHook', alpha=0.7, export_name='regionclip_student.pt')]
