# DenseVLM (ICCV'25) training on COCO train2017 images (no labels): an EVA02-CLIP-B/16 student
# learns, region by region, the thing / stuff class distributions that a frozen stronger CLIP
# (P-VLM: a CLIPSelf-tuned EVA02-CLIP-L/14-336) gives over a 316-class vocabulary.
#   python tools/train.py configs/densevlm/densevlm_coco.py            # one GPU: batch 16
#   bash tools/dist_train.sh configs/densevlm/densevlm_coco.py 4       # 4 GPUs x 16 = 64 (DenseVLM)
#   python tools/train.py configs/densevlm/densevlm_coco.py --resume   # continue after a crash
# The exported checkpoint, work_dirs/densevlm_coco/densevlm_student.pt (a full CLIP in open_clip
# format, 0.9 * trained + 0.1 * initial weights), loads in configs/densevlm/ (cfg_*.py and
# densevlm_region_cls_{coco,ade}.py) with --checkpoint.
_base_ = [
    '../_base_/train_runtime.py',
    '../_base_/schedules/adamw_warmupcos_6e.py',
    '../_base_/datasets/coco_grid_distill.py',
    '../_base_/datasets/coco_panoptic_regions_val.py',
]

eva_base = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'            # student init (HF QuanSun/EVA-CLIP)
teacher_weights = 'checkpoints/clipself_coco_6_save6_512_eva_vitl14_24layers.pt'  # HF lyhisme/DenseVLM
image_size = 512
# Classes 0..num_thing_classes-1 of the vocabulary are things. The vocabulary has 204 things, but
# DenseVLM's released code parses "Thing204" from its embedding file name and subtracts one, so it
# trains with 203 (class 203, "house", counts as stuff). 203 reproduces the release; 204 is the
# paper's intent.
num_thing_classes = 203

model = dict(
    type='DenseVLMDistiller',
    student=dict(type='DeCLIPViT', model_name='EVA02-B-16', pretrained=eva_base,
                 attn_mode='identity', residual=True, ffn=True),   # EVA-CLIP's encode_dense
    class_names='{{fileDirname}}/../class_names/densevlm/thing204_stuff112.txt',
    split_synonyms=False,              # one name per line, commas included
    templates='densevlm_hand_craft',   # DenseVLM's 63 prompts, mean not renormalized
    # DenseVLM's own embeddings instead (used as given):
    # metadata/COCO_STUFF_ADE20k_Thing204_STUFF112_clip_hand_craft_EVACLIP_ViTB16.npy (student),
    # metadata/COCO_STUFF_ADE20k_Thing204_STUFF112_clip_hand_craft_EVACLIP_ViTL14x336.npy (teacher)
    student_text_embeddings=None,
    teacher_text_embeddings=None,
    num_thing_classes=num_thing_classes,
    temperature=100.0,
    min_confidence=0.3,
    unlocked_blocks=None,              # all 12 blocks (--lock-image-unlocked-groups 12)
    normalize_tokens=True,
    val_text_classifier=dict(type='ZeroShotTextClassifier',
                             class_names='{{fileDirname}}/../class_names/coco_panoptic.txt',
                             templates='densevlm_hand_craft'),
)

train_dataloader = dict(
    batch_size=16,                     # per GPU; DenseVLM: 4 GPUs x 16
    drop_last=True,
    dataset=dict(image_size=image_size, grid_style='densevlm', max_boxes=36, with_crops=False,
                 with_vfm_view=False))
val_dataloader = dict(dataset=dict(image_size=image_size))
val_evaluator = dict(key_format='{method}.{kind}.macc{k}', half_precision_per_class=True)

custom_hooks = [
    dict(type='DistillHook',
         teachers=dict(teacher=dict(model_name='EVA02-L-14-336', pretrained=teacher_weights)),
         alpha=0.9,                    # 0.9 * trained + 0.1 * initial student at export
         export_name='densevlm_student.pt'),
]
