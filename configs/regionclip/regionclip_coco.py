# RegionCLIP mode of DenseVLM's code base (scripts/train_regionclip_coco_eva_vitb16.sh): boxes
# pseudo-labelled with 4764 concepts (CLIPSelf's data/coco/coco_pseudo_4764.json, the first 20
# per image), RoI features of the student's dense map, binary cross-entropy against the noun
# embeddings over 100 sampled classes (all classes of the batch + random others), logits scaled
# by the model's own logit scale; exported as 0.7 * trained + 0.3 * initial. Schedule, batch and
# validation as DenseVLM (configs/densevlm/densevlm_coco.py).
#   python tools/train.py configs/regionclip/regionclip_coco.py
_base_ = [
    '../_base_/train_runtime.py',
    '../_base_/schedules/adamw_warmupcos_6e.py',
    '../_base_/datasets/coco_panoptic_regions_val.py',
]

eva_base = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'            # student init (HF QuanSun/EVA-CLIP)
data_root = 'data/coco'
image_size = 512

model = dict(
    type='RegionCLIPDistiller',
    student=dict(type='DeCLIPViT', model_name='EVA02-B-16', pretrained=eva_base,
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
                             class_names='{{fileDirname}}/../class_names/coco_panoptic.txt',
                             templates='densevlm_hand_craft'),
)
train_dataloader = dict(
    batch_size=16,                     # per GPU; DenseVLM: 4 GPUs x 16
    num_workers=4,
    drop_last=True,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='RegionCLIPDataset', data_root=data_root, ann_file='coco_pseudo_4764.json',
                 img_dir='train2017', image_size=image_size, max_boxes=20, seed=0))
val_dataloader = dict(dataset=dict(image_size=image_size))
val_evaluator = dict(key_format='{method}.{kind}.macc{k}', half_precision_per_class=True)
custom_hooks = [dict(type='DistillHook', alpha=0.7, export_name='regionclip_student.pt')]
