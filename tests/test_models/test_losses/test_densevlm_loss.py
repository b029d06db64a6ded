"""densevlm_loss against a direct re-computation of the original code."""

import pytest
import torch
import torch.nn.functional as F

from declip_mmseg.models.losses import (
    densevlm_loss,
    densevlm_loss_with_stats,
)
from declip_mmseg.testing.reference import THING, K
from declip_mmseg.testing.reference import densevlm_loss_reference as reference


def fixed_case(seed=0, classes=(0, 3, 4, 5, 7, 11, 1, 8, 2, 9),
               sharp=(3., 3., .05, 3., 3., .02, 3., .01, 3., 3.)):
    """Teacher regions near chosen classes (``sharp`` 3: confident, ~0: not), not normalized.
    Text rows are short (norm 0.04 / 0.05) so that tau = 100 gives soft distributions."""
    g = torch.Generator().manual_seed(seed)
    t_text = F.normalize(torch.randn(K, 16, generator=g), dim=1) * 0.04
    s_text = F.normalize(torch.randn(K, 8, generator=g), dim=1) * 0.05
    classes, sharp = torch.tensor(classes), torch.tensor(sharp)
    n = len(classes)
    t_feat = sharp[:, None] * F.normalize(t_text[classes], dim=1) \
        + F.normalize(torch.randn(n, 16, generator=g), dim=1)
    t_feat = t_feat * (1 + torch.rand(n, 1, generator=g))       # not normalized
    s_feat = torch.randn(n, 8, generator=g) * 2
    return t_feat, s_feat, t_text, s_text


def test_fixed_case_with_thresholds():
    t_feat, s_feat, t_text, s_text = fixed_case()
    loss, stats = densevlm_loss_with_stats(t_feat, s_feat, t_text, s_text, num_thing_classes=THING)
    assert 0 < stats['kept'] < stats['regions'] == 10         # the 0.3 filter drops some
    assert stats['thing'] > 0 and stats['stuff'] > 0
    expected = reference(t_feat, s_feat, t_text, s_text)
    assert abs(float(loss) - expected) < 1e-4 * max(1, expected)
    # the public function returns the same scalar
    assert torch.equal(densevlm_loss(t_feat, s_feat, t_text, s_text, THING), loss)
    # class THING - 1 is a thing, class THING stuff: moving the cutoff changes the split
    _, stats6 = densevlm_loss_with_stats(t_feat, s_feat, t_text, s_text, num_thing_classes=6)
    assert stats6['thing'] == stats['thing'] + 1               # region of class 5
    for thr in (0.0, 0.75):
        expected = reference(t_feat, s_feat, t_text, s_text, thr=thr)
        got = densevlm_loss(t_feat, s_feat, t_text, s_text, THING, min_confidence=thr)
        assert abs(float(got) - expected) < 1e-4 * max(1, expected)


def test_defaults_are_densevlm_release():
    import inspect
    params = inspect.signature(densevlm_loss).parameters
    assert list(params)[:4] == ['teacher_regions', 'student_regions', 'teacher_text',
                                'student_text']
    assert (params['num_thing_classes'].default, params['temperature'].default,
            params['min_confidence'].default) == (203, 100.0, 0.3)


@pytest.mark.parametrize('kind', ['only_things', 'only_stuff'])
def test_edge_cases_one_kind(kind):
    classes = (0, 1, 2, 3) if kind == 'only_things' else (5, 6, 9, 11)
    t_feat, s_feat, t_text, s_text = fixed_case(seed=1, classes=classes, sharp=(4.,) * 4)
    loss, stats = densevlm_loss_with_stats(t_feat, s_feat, t_text, s_text, THING)
    assert stats['kept'] == 4
    assert (stats['stuff'] if kind == 'only_things' else stats['thing']) == 0
    expected = reference(t_feat, s_feat, t_text, s_text)
    assert abs(float(loss) - expected) < 1e-4 * max(1, expected)


def test_no_region_kept_is_a_connected_zero():
    t_feat, s_feat, t_text, s_text = fixed_case(sharp=(0.,) * 10)
    s_feat.requires_grad_(True)
    loss, stats = densevlm_loss_with_stats(t_feat, s_feat, t_text, s_text, THING,
                                           min_confidence=0.8)
    assert stats['kept'] == 0 and stats['regions'] == 10
    assert float(loss) == 0.0 and not torch.isnan(loss)
    loss.backward()
    assert s_feat.grad is not None and torch.all(s_feat.grad == 0)


def test_gradient_reaches_the_student_only():
    t_feat, s_feat, t_text, s_text = fixed_case()
    t_feat.requires_grad_(True)
    s_feat.requires_grad_(True)
    densevlm_loss(t_feat, s_feat, t_text, s_text, THING).backward()
    assert t_feat.grad is None and s_feat.grad.abs().sum() > 0


def test_text_embeddings_used_as_given():
    """Scaling a text embedding changes the loss (DenseVLM does not re-normalize them)."""
    t_feat, s_feat, t_text, s_text = fixed_case()
    a = densevlm_loss(t_feat, s_feat, t_text, s_text, THING)
    b = densevlm_loss(t_feat, s_feat, t_text, s_text * 0.5, THING)
    assert abs(float(a) - float(b)) > 1e-3


def test_shape_errors():
    t_feat, s_feat, t_text, s_text = fixed_case()
    with pytest.raises(ValueError, match='has 12 classes, student vocabulary 11'):
        densevlm_loss(t_feat, s_feat, t_text, s_text[:11])
    with pytest.raises(ValueError, match='teacher regions'):
        densevlm_loss(t_feat, s_feat[:3], t_text, s_text)
