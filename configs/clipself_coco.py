# CLIPSelf (ICLR'24) as DenseVLM's code base trains it (scripts/train_clipself_coco_image_patches_
# eva_vitb16.sh): the student's RoI features of the random grid cells (EVA-CLIP encode_dense,
# normalized tokens) learn the frozen initial EVA02-CLIP-B/16's global embeddings of the cells'
# 224 px crops, loss 1 - cosine; everything else as DenseVLM (512 px, 17 grid layouts, all
# cells, 4 x 16 images, lr 1e-5, 6 epochs), exported as 0.7 * trained + 0.3 * initial.
# (CLIPSelf's own repository trains at 1024 px with at most 20 cells, 8 GPUs x 2.)
#   python tools/train.py configs/clipself_coco.py
_base_ = ['./densevlm_coco.py']

model = dict(
    _delete_=True,
    type='CLIPSelfDistiller',
    student=dict(type='DeCLIPViT', model_name='EVA02-B-16', pretrained={{_base_.eva_base}},
                 attn_mode='identity', residual=True, ffn=True),
    loss_cosine_weight=1.0,
    unlocked_blocks=None,
    normalize_tokens=True,
    val_text_classifier=dict(type='ZeroShotTextClassifier',
                             class_names='{{fileDirname}}/class_names/coco_panoptic.txt',
                             templates='densevlm_hand_craft'),
)
train_dataloader = dict(dataset=dict(with_crops=True, crop_size=224))
custom_hooks = [dict(type='DistillHook', alpha=0.7, export_name='clipself_student.pt')]
