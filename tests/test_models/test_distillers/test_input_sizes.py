"""DistillerBase / DeCLIPDistiller.check_inputs: dataset sizes the student and the teachers cannot
take are refused when training starts (DistillHook.before_train), naming the config key."""
from types import SimpleNamespace

import pytest
import torch

from declip_mmseg.datasets.grid_distill import GridDistillDataset
from declip_mmseg.testing import TINY_VFM_ARCH, write_tiny_vfm
from declip_mmseg.testing.synthetic_data import make_coco

KEY = 'train_dataloader.dataset'


@pytest.fixture(scope='module')
def distiller(tiny_eva, tmp_path_factory):
    """A DeCLIP distiller of the tiny EVA (32 px input, 8 px patches) with a tiny DINOv2 (14)."""
    from mmseg.registry import MODELS

    import declip_mmseg  # noqa: F401
    arch, ckpt = tiny_eva
    vfm = str(tmp_path_factory.mktemp('vfm') / 'dinov2.pth')
    write_tiny_vfm(vfm)
    model = MODELS.build(dict(type='DeCLIPDistiller', student=dict(
        type='DeCLIPViT', model_name=arch, pretrained=ckpt, attn_mode='csa', attn_scale=1.0)))
    model.attach_teachers(torch.device('cpu'), vfm=dict(name='dinov2-B', weights=vfm,
                                                        **TINY_VFM_ARCH))
    return model


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    return make_coco(str(tmp_path_factory.mktemp('coco')), n=1)


def dataset(root, **kw):
    args = dict(data_root=root, img_dir='train2017', image_size=64, crop_size=32,
                student_patch=8, vfm_patch=14, max_boxes=4)
    return GridDistillDataset(**dict(args, **kw))


@pytest.mark.parametrize('change, message', [
    (dict(crop_size=48), f'{KEY}.crop_size=48, but the crop teacher .* takes 32 x 32 images only; '
                         f'set {KEY}.crop_size=32'),
    (dict(image_size=60), f"{KEY}.image_size=60 is not a multiple of the student's patch size 8"),
    (dict(student_patch=16), f'{KEY}.student_patch=16, but the student .* set {KEY}.student_patch=8'),
    (dict(vfm_patch=8), f'{KEY}.vfm_patch=8, but the VFM teacher dinov2-B has 14-pixel patches'),
])
def test_sizes_the_teachers_cannot_take_are_refused_at_start(distiller, coco, change, message,
                                                             monkeypatch):
    from declip_mmseg.engine.hooks.distill_hook import DistillHook
    distiller.check_inputs(dataset(coco))  # the working sizes
    runner = SimpleNamespace(model=distiller,
                             train_dataloader=SimpleNamespace(dataset=dataset(coco, **change)))
    monkeypatch.setattr(distiller, 'attach_teachers', lambda device, **kw: None)  # attached above
    with pytest.raises(ValueError, match=message):
        DistillHook().before_train(runner)
