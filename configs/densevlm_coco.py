# DenseVLM (ICCV'25) training on COCO train2017 images (no labels): an EVA02-CLIP-B/16 student
# learns, region by region, the thing / stuff class distributions that a frozen stronger CLIP
# (P-VLM: a CLIPSelf-tuned EVA02-CLIP-L/14-336) gives over a 316-class vocabulary.
#   python tools/train.py configs/densevlm_coco.py                   # one GPU: batch 16
#   bash tools/dist_train.sh configs/densevlm_coco.py 4              # 4 GPUs x 16 = 64 (DenseVLM)
#   python tools/train.py configs/densevlm_coco.py --resume          # continue after a crash
# The exported checkpoint, work_dirs/densevlm_coco/densevlm_student.pt (a full CLIP in open_clip
# format, 0.9 * trained + 0.1 * initial weights), loads in configs/densevlm/ and
# configs/densevlm_region_cls_{coco,ade}.py with --checkpoint.
_base_ = ['./declip_distill_coco.py']    # runtime, hooks, logging, validation set

eva_base = 'checkpoints/EVA02_CLIP_B_psz16_s8B.pt'            # student init (HF QuanSun/EVA-CLIP)
teacher_weights = 'checkpoints/clipself_coco_6_save6_512_eva_vitl14_24layers.pt'  # HF lyhisme/DenseVLM
data_root = 'data/coco'
image_size = 512
max_epochs = 6
# Classes 0..num_thing_classes-1 of the vocabulary are things. The vocabulary has 204 things, but
# DenseVLM's released code parses "Thing204" from its embedding file name and subtracts one, so it
# trains with 203 (class 203, "house", counts as stuff). 203 reproduces the release; 204 is the
# paper's intent.
num_thing_classes = 203

model = dict(
    _delete_=True,
    type='DenseVLMDistiller',
    student=dict(type='DeCLIPViT', model_name='EVA02-B-16', pretrained=eva_base,
                 attn_mode='identity', residual=True, ffn=True),   # EVA-CLIP's encode_dense
    class_names='{{fileDirname}}/class_names/densevlm/thing204_stuff112.txt',
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
                             class_names='{{fileDirname}}/class_names/coco_panoptic.txt',
                             templates='densevlm_hand_craft'),
)

train_dataloader = dict(
    batch_size=16,                     # per GPU; DenseVLM: 4 GPUs x 16
    num_workers=4,
    drop_last=True,
    dataset=dict(_delete_=True, type='GridDistillDataset', data_root=data_root,
                 img_dir='train2017', ann_file='annotations/instances_train2017.json',
                 image_size=image_size, student_patch=16, grid_style='densevlm', max_split=6,
                 max_boxes=36, with_crops=False, with_vfm_view=False, seed=0))
val_dataloader = dict(dataset=dict(image_size=image_size, patch_size=16))
val_evaluator = dict(key_format='{method}.{kind}.macc{k}', half_precision_per_class=True)
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)  # DenseVLM: every epoch (1)

# AdamW as DenseVLM (non-ViT defaults of OpenCLIP: betas 0.9 / 0.999, eps 1e-8), lr 1e-5 for a
# total batch of 64, wd 0.1 on weights, 0 on norms, biases and other 1-D parameters; fp16 AMP
# with a dynamic loss scale (fp32 on CPU, tools/train.py switches). With
# auto_scale_lr.enable=True the lr scales linearly with your total batch (base 64).
optim_wrapper = dict(
    _delete_=True, type='AmpOptimWrapper', dtype='float16', loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.1, betas=(0.9, 0.999), eps=1e-8),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
    clip_grad=None)
auto_scale_lr = dict(enable=False, base_batch_size=64)
# OpenCLIP's cosine_lr: lr * (i + 1) / 1000 for 1000 iterations, then cosine to 0 at the end.
param_scheduler = [dict(type='WarmupCosineLR', warmup=1000, by_epoch=True, begin=0,
                        end=max_epochs, convert_to_iter_based=True)]

custom_hooks = [
    dict(type='DistillHook',
         teachers=dict(teacher=dict(model_name='EVA02-L-14-336', pretrained=teacher_weights)),
         alpha=0.9,                    # 0.9 * trained + 0.1 * initial student at export
         export_name='densevlm_student.pt'),
]
