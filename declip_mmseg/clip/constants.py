"""Image statistics, taken from open_clip where it defines them.

``*_01`` are on the 0-1 pixel scale (torchvision tensors, the distillation datasets, VFM
inputs); ``*_255`` on the 0-255 scale of mmseg's ``SegDataPreProcessor``.
"""
from open_clip.constants import IMAGENET_MEAN, IMAGENET_STD, OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

CLIP_MEAN_01 = OPENAI_DATASET_MEAN  # OpenAI CLIP, also EVA-CLIP
CLIP_STD_01 = OPENAI_DATASET_STD
IMAGENET_MEAN_01 = IMAGENET_MEAN     # DINO, DINOv2, SAM; MaskCLIP's img_norm_cfg
IMAGENET_STD_01 = IMAGENET_STD

# The CLIP statistics x 255 rounded to 3 decimals, as the mmseg configs of ClearCLIP, SCLIP,
# NACLIP, ProxyCLIP and DeCLIP write them (mean=[122.771, 116.746, 104.094], ...).
CLIP_MEAN_255 = [round(v * 255, 3) for v in CLIP_MEAN_01]
CLIP_STD_255 = [round(v * 255, 3) for v in CLIP_STD_01]
IMAGENET_MEAN_255 = [round(v * 255, 3) for v in IMAGENET_MEAN_01]  # [123.675, 116.28, 103.53]
IMAGENET_STD_255 = [round(v * 255, 3) for v in IMAGENET_STD_01]    # [58.395, 57.12, 57.375]
