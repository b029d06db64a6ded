# CLIPSelf (ICLR'24) as DenseVLM's code base trains it (scripts/train_clipself_coco_image_patches_
# eva_vitb16.sh): the student's RoI features of the random grid cells (EVA-CLIP encode_dense,
# normalized tokens) learn the frozen initial EVA02-CLIP-B/16's global embeddings of the cells'
# 224 px crops, loss 1 - cosine; everything else as DenseVLM (512 px, 17 grid layouts, all
# cells, 4 x 16 images, lr 1e-5, 6 epochs), exported as 0.7 * trained + 0.3 * initial.
# (CLIPSelf's own repository trains at 1024 px with at most 20 cells, 8 GPUs x 2.)
#   python tools/train.py configs/clipself/clipself_coco.py
_base_ = [
    '../_base_/train_runtime.py',
    '../_base_/schedules/adamw_warmupcos_6e.py',
    '../_base_/datasets/coco_grid_distill.py',
    '../_base_/datasets/coco_panoptic_regions_val.py',
]

eva_base = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'            # student init (HF QuanSun/EVA-CLIP)
image_size = 512

model = dict(
    type='CLIPSelfDistiller',
    student=dict(type='DeCLIPViT', model_name='EVA02-B-16', pretrained=eva_base,
                 attn_mode='identity', residual=True, ffn=True),
    loss_cosine_weight=1.0,
    unlocked_blocks=None,
    normalize_tokens=True,
    val_text_classifier=dict(type='ZeroShotTextClassifier',
                             class_names='{{fileDirname}}/../class_names/coco_panoptic.txt',
                             templates='densevlm_hand_craft'),
)
# DenseVLM's grids, batch and validation (configs/densevlm/densevlm_coco.py), with the crops
train_dataloader = dict(
    batch_size=16, drop_last=True,
    dataset=dict(image_size=image_size, grid_style='densevlm', max_boxes=36, with_crops=True,
                 crop_size=224, with_vfm_view=False))
val_dataloader = dict(dataset=dict(image_size=image_size))
val_evaluator = dict(key_format='{method}.{kind}.macc{k}', half_precision_per_class=True)
custom_hooks = [dict(type='DistillHook', alpha=0.7, export_name='clipself_student.pt')]
