"""engine/schedulers.py: the warm-up + cosine learning rate."""
import numpy as np
import torch


# -- the scheduler -----------------------------------------------------------------------------
def test_warmup_cosine_lr():
    from declip_mmseg.engine import WarmupCosineLR
    param = torch.nn.Parameter(torch.zeros(1))
    optim = torch.optim.AdamW([param], lr=1e-5)
    sched = WarmupCosineLR(optim, warmup=10, begin=0, end=50, by_epoch=False)
    lrs = []
    for _ in range(50):
        lrs.append(optim.param_groups[0]['lr'])
        optim.step()
        sched.step()
    assert abs(lrs[0] - 1e-6) < 1e-15 and abs(lrs[9] - 1e-5) < 1e-15
    assert abs(lrs[10] - 1e-5) < 1e-15
    assert abs(lrs[30] - 0.5 * (1 + np.cos(np.pi * 20 / 40)) * 1e-5) < 1e-15
    built = WarmupCosineLR.build_iter_from_epoch(optim, warmup=10, begin=0, end=6,
                                                 by_epoch=True, epoch_length=7)
    assert (built.begin, built.end, built.by_epoch) == (0, 42, False)
