# CAT-Seg's own OpenAI CLIP ViT-B/16 (configs/vitb_384.yaml; model_base.pth of the HF space
# hamacojr/CAT-Seg-weights): CAT-Seg's dense OpenAI path (value branch + class token of the block
# input + MLP in the last block, features not normalised), QuickGELU (OpenAI's weights).
_base_ = ['./catseg.py']
model = dict(
    checkpoint='checkpoints/model_base.pth',
    backbone=dict(model_name='ViT-B-16', quick_gelu=True),
    dense_path='value_cls',
    dense_normalize=False,
)
