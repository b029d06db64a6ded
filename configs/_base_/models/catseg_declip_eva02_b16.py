# CAT-Seg on DeCLIP's EVA02-CLIP-B/16 (DeCLIP_CATSeg branch, configs/eva_vitb_384.yaml): dense
# features from DeCLIP's decoupled last block in 'csa' mode, unscaled (the branch hard-codes
# mode='csa'; a qq-distilled DeCLIP needs attn_mode='qq'), L2-normalised; guidance from blocks 3, 7.
# checkpoint: the released CATSeg_DeCLIP_EVA-B_DINOv2-B_csa_0.05_2.0 (HF xiaomoguhzz); training
# starts from the DeCLIP backbone file instead (backbone.pretrained, see the coco config).
_base_ = ['./catseg.py']
model = dict(
    checkpoint='checkpoints/CATSeg_DeCLIP_EVA-B_DINOv2-B_csa_0.05_2.0.pth',
    backbone=dict(model_name='EVA02-B-16', attn_mode='csa', attn_scale=1.0),
    dense_path='decoupled',
    dense_normalize=True,
)
