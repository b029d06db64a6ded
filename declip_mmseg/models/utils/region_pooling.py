"""Pool dense features inside boxes and masks (DeCLIP's RoI and mask pooling)."""
from typing import List, Sequence

import torch
from torchvision.ops import roi_align


def denormalize_boxes(boxes: Sequence[torch.Tensor], height: int, width: int) -> List[torch.Tensor]:
    """Boxes (n_i, 4) xyxy in [0, 1] of the (padded) input -> feature-map coordinates."""
    scale = torch.tensor([width, height, width, height])
    return [b[:, :4] * scale.to(b) for b in boxes]


def roi_pool(features: torch.Tensor, boxes: Sequence[torch.Tensor]) -> torch.Tensor:
    """1x1 RoIAlign (aligned, adaptive sampling) of a (B, C, h, w) map over normalized boxes.

    ``boxes[i]`` holds image i's boxes, (n_i, 4) xyxy in [0, 1]; returns (sum n_i, C),
    not normalized, as DeCLIP's ``extract_roi_features``.
    """
    h, w = features.shape[-2:]
    rois = denormalize_boxes(boxes, h, w)
    rois = [r.to(features.dtype) for r in rois]
    return roi_align(features, rois, output_size=(1, 1), spatial_scale=1.0, sampling_ratio=-1,
                     aligned=True)[..., 0, 0]


def mask_pool(features: torch.Tensor, masks: Sequence[torch.Tensor]) -> torch.Tensor:
    """Masked mean of a (B, C, h, w) map; ``masks[i]`` is (n_i, h, w) for image i.

    Returns (sum n_i, C): ``sum(f * m) / (sum(m) + 1e-12)`` as DeCLIP's ``mask_pool``.
    """
    out = []
    for feat, m in zip(features, masks):
        m = m.to(feat.dtype).flatten(1)                      # (n, h*w)
        out.append(m @ feat.flatten(1).T / (m.sum(1, keepdim=True) + 1e-12))
    return torch.cat(out) if out else features.new_zeros((0, features.shape[1]))
