"""engine/hooks/finite_loss_hook.py: a NaN / Inf loss stops training before its step."""
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper

from declip_mmseg.engine import FiniteLossHook, TrainingDivergedError
from declip_mmseg.testing.tools import REPO


class Scalar(BaseModel):
    """One weight; the loss is ``weight * x``, so x = NaN makes a NaN loss."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='loss'):
        return {'loss_main': (self.weight * inputs).sum(), 'loss_aux': self.weight.sum() * 0}


def test_non_finite_loss_stops_before_the_step(tmp_path):
    model = Scalar()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    runner = SimpleNamespace(model=model, work_dir=str(tmp_path), epoch=2, iter=41)
    FiniteLossHook().before_train(runner)
    model.train_step(dict(inputs=torch.tensor([2.0])), wrapper)  # a finite step trains
    trained = model.weight.detach().clone()
    assert trained.item() != 1.0
    with pytest.raises(TrainingDivergedError) as err:
        model.train_step(dict(inputs=torch.tensor([float('nan')])), wrapper)
    msg = str(err.value)
    assert 'epoch 3, iteration 42' in msg and 'loss=nan' in msg and 'loss_main=nan' in msg
    assert 'loss_aux' not in msg  # only the non-finite terms are named
    assert f'--resume {tmp_path}/epoch_2.pth' in msg and 'lower learning rate' in msg
    assert torch.equal(model.weight.detach(), trained)  # the step never happened
    with pytest.raises(TrainingDivergedError, match='inf'):
        model.train_step(dict(inputs=torch.tensor([float('inf')])), wrapper)


@pytest.mark.parametrize('config', ['declip/declip_distill_coco.py', 'densevlm/densevlm_coco.py',
                                    'clipself/clipself_coco.py', 'regionclip/regionclip_coco.py'])
def test_every_training_config_has_the_guard(config):
    cfg = Config.fromfile(osp.join(REPO, 'configs', config))
    assert cfg.default_hooks.finite_loss.type == 'FiniteLossHook'
