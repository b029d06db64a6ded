"""DeCLIP's content and context losses against their formulas."""
import pytest
import torch
import torch.nn.functional as F

from declip_mmseg.models.losses import content_loss, context_loss


# -- losses against the formulas ------------------------------------------------------------
def test_content_loss_formula():
    s, t = torch.randn(7, 16), torch.randn(7, 16)
    cos = [float(a @ b / a.norm() / b.norm()) for a, b in zip(s, t)]
    assert abs(float(content_loss(s, t)) - (1 - sum(cos) / 7)) < 1e-6


def direct_affinity(x):
    """(C, N) -> cosine matrix, column by column."""
    x = x / x.norm(dim=0, keepdim=True)
    return x.T @ x


@pytest.mark.parametrize('mode', ['qq', 'kk', 'csa'])
@pytest.mark.parametrize('grid', [(5, 5), (3, 4)])  # same grid as the VFM, and resized
def test_context_loss_formula(mode, grid):
    torch.manual_seed(0)
    B, D, H = 2, 12, 3
    vfm = torch.randn(B, 10, 5, 5)
    ctx = {'q': torch.randn(B, D, *grid), 'k': torch.randn(B, D, *grid)}
    ours = context_loss(vfm, ctx, mode, num_heads=H)
    rows = []
    for b in range(B):
        T = direct_affinity(vfm[b].reshape(10, -1))
        q, k = (F.interpolate(ctx[n][b:b + 1], size=(5, 5), mode='bilinear',
                              align_corners=False)[0].reshape(D, -1) for n in 'qk')
        if mode == 'csa':   # DeCLIP: per head (B*H, N, d), S = (qq^T + kk^T) / 2, T broadcast
            d = D // H
            for h in range(H):
                S = (direct_affinity(q[h * d:(h + 1) * d]) + direct_affinity(k[h * d:(h + 1) * d])) / 2
                rows.append(torch.stack([(T[i] - S[i]).norm() for i in range(25)]))
        else:
            S = direct_affinity(q if mode == 'qq' else k)
            rows.append(torch.stack([(T[i] - S[i]).norm() for i in range(25)]))
    assert abs(float(ours) - float(torch.cat(rows).mean())) < 1e-5
