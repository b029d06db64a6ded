"""models/utils/cpu_fast.py: oneDNN linears with packed weights and fused attention against the
eager fp32 path, on every method's base config with tiny towers (CLIP, EVA02, DINO proxy)."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from torch import nn

from declip_mmseg.models import ZeroShotSegmentor
from declip_mmseg.models.backbones.decoupled_attention import decoupled_attention
from declip_mmseg.models.utils.cpu_fast import PackedWeights, cpu_fast_path, onednn_linear_available
from declip_mmseg.registry import ATTN_FUSED, ATTN_MODES
from declip_mmseg.testing.checkpoints import DINO_PATCHES, TINY, dino_v1_weights, save
from declip_mmseg.testing.tools import REPO

METHODS = ['clearclip', 'sclip', 'naclip', 'maskclip', 'proxyclip', 'declip', 'densevlm']
NAMES = ['sky; cloud', 'tree', 'road', 'person', 'car; truck', 'grass']


def test_packed_linear_matches_and_follows_weight_updates():
    if not onednn_linear_available():
        pytest.skip('this torch has no oneDNN packed linear')
    torch.manual_seed(0)
    layer = nn.Linear(24, 40)
    x = torch.randn(3, 7, 24)
    weights = PackedWeights()
    with torch.no_grad(), cpu_fast_path(weights):
        torch.testing.assert_close(layer(x), x @ layer.weight.T + layer.bias, atol=1e-5, rtol=1e-5)
        assert len(weights) == 1
        layer.weight.mul_(2)  # an in-place update is seen: repacked
        torch.testing.assert_close(layer(x), x @ layer.weight.T + layer.bias, atol=1e-5, rtol=1e-5)
    with cpu_fast_path(weights):  # gradients on: the eager op, so backward works
        layer(x).sum().backward()
    assert layer.weight.grad is not None


@pytest.mark.parametrize('mode', sorted(ATTN_MODES))
def test_fused_rules_match_their_weights(mode):
    assert mode == 'identity' or mode in ATTN_FUSED, f'{mode} has no fused form'
    torch.manual_seed(1)
    grid = (3, 5)
    q, k, v = (torch.randn(4, 16, 8) for _ in range(3))
    eager = decoupled_attention(q, k, v, mode, 0.35, grid)
    torch.testing.assert_close(decoupled_attention(q, k, v, mode, 0.35, grid, fused=True), eager,
                               atol=1e-6, rtol=1e-5)


@pytest.fixture(scope='module')
def dino_file(tmp_path_factory):
    weights = dino_v1_weights(DINO_PATCHES['dino-B-8'], seed=3)
    return save(tmp_path_factory.mktemp('dino'), 'dino.pth', weights)


def method_segmentor(method, tiny_clip, tiny_eva, dino_file, **kw):
    """``method``'s base model config with a tiny tower (EVA02 for DeCLIP / DenseVLM)."""
    def read(name):
        return Config.fromfile(f'{REPO}/configs/_base_/models/{name}.py', import_custom_modules=False)

    base = {'declip': 'declip_eva02_b16', 'densevlm': 'declip_eva02_b16'}.get(method, f'{method}_vit_b16')
    cfg = read(base).model.to_dict()
    if method == 'densevlm':  # DeCLIP's protocol with DenseVLM's backbone (configs/densevlm/)
        cfg['backbone'] = read('densevlm_eva02_b16').densevlm_backbone.to_dict()
    arch, ckpt = tiny_eva if method in ('declip', 'densevlm') else tiny_clip
    cfg['backbone'].update(model_name=arch, pretrained=ckpt, checkpoint=None)
    if cfg['backbone'].get('proxy'):
        cfg['backbone']['proxy'] = dict(cfg['backbone']['proxy'], weights=dino_file,
                                        arch=dict(img_size=32, **TINY))
    cfg['text_classifier'].update(class_names=NAMES, templates=['a photo of a {}.'])
    cfg.update(slide_crop=40, slide_stride=24, keep_seg_logits=True, amp_dtype=None, **kw)
    cfg.pop('type')
    return ZeroShotSegmentor(**cfg).eval()


def predict(model, img, fast, dtype=None):
    model.cpu_fast_path, model.cpu_amp_dtype = fast, dtype
    sample = model.predict(img)[0]
    return sample.seg_logits.data, sample.pred_sem_seg.data


@pytest.mark.slow
@pytest.mark.parametrize('method', METHODS)
def test_fast_path_matches_fp32_on_every_method(method, tiny_clip, tiny_eva, dino_file):
    model = method_segmentor(method, tiny_clip, tiny_eva, dino_file)
    torch.manual_seed(2)
    img = torch.randn(1, 3, 56, 72)
    probs, labels = predict(model, img, fast=False)
    fast_probs, fast_labels = predict(model, img, fast=True)
    assert len(model._packed) > 0 or not onednn_linear_available()
    assert (fast_probs - probs).abs().max() <= 1e-5
    top2 = probs.topk(2, dim=0).values
    clear = (top2[0] - top2[1]) > 1e-4  # labels may differ only at near-ties
    assert torch.equal(fast_labels[0][clear], labels[0][clear])
    bf16_probs, bf16_labels = predict(model, img, fast=True, dtype=torch.bfloat16)
    assert bf16_probs.dtype == torch.float32 and (bf16_probs - probs).abs().max() < 0.2


def test_labels_of_many_classes_equal_the_full_softmax(tiny_clip, tiny_eva, dino_file):
    """Windows kept at their patch grid, the softmax shifted by a precomputed bound: the labels-only
    path gives the labels of the full-size softmax (keep_seg_logits) with many queries."""
    names = [f'thing {i}' for i in range(60)] + ['sky; cloud']
    model = method_segmentor('clearclip', tiny_clip, tiny_eva, dino_file, prob_thd=0.02)
    model.text_classifier.__init__(class_names=names, templates=['a photo of a {}.'],
                                   model_name=tiny_clip[0], pretrained=tiny_clip[1])
    torch.manual_seed(4)
    img = torch.randn(1, 3, 50, 70)
    probs, labels = predict(model, img, fast=True)
    model.keep_seg_logits = False
    only = model.predict(img)[0].pred_sem_seg.data
    top2 = probs.topk(2, dim=0).values
    clear = (top2[0] - top2[1]) > 1e-5
    assert torch.equal(only[0][clear], labels[0][clear])
    full = model.slide_logits(img)[0]
    expected = (full * model.logit_scale).softmax(0)
    torch.testing.assert_close(model.text_classifier.pool_synonyms(expected), probs)


def test_fast_path_leaves_cuda_and_training_alone(tiny_clip, tiny_eva, dino_file):
    model = method_segmentor('clearclip', tiny_clip, tiny_eva, dino_file)
    assert not any('_packed' in k for k in model.state_dict())
    x = torch.randn(2, 5, model.backbone.tower.width)
    with cpu_fast_path(model._packed):
        F.linear(x, torch.randn(7, x.shape[-1]))  # not a parameter: eager, not packed
    assert len(model._packed) == 0
