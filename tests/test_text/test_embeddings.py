"""declip_mmseg.text.embeddings: text embeddings by the recipe, templates and the embedding cache."""
import glob
import os

import open_clip
import pytest
import torch
import torch.nn.functional as F

import declip_mmseg.models.heads.text_classifier as tc
import declip_mmseg.text.embeddings as text_embeddings
from declip_mmseg.clip import build_clip
from declip_mmseg.registry import TEMPLATE_SETS
from declip_mmseg.text import get_templates


def make(tiny_clip, names, cache_dir, templates='openai_imagenet_7', pretrained=None):
    arch, ckpt = tiny_clip
    return tc.ZeroShotTextClassifier(names, model_name=arch, pretrained=pretrained or ckpt,
                                     templates=templates, cache_dir=cache_dir)


def test_embeddings_follow_the_recipe(tiny_clip, tmp_path):
    arch, ckpt = tiny_clip
    clf = make(tiny_clip, ['cat; kitty', 'dog'], str(tmp_path))
    clip = build_clip(arch, ckpt)
    tok = open_clip.get_tokenizer('TinyCLIP-Test')
    rows = []
    for name in ['cat', 'kitty', 'dog']:
        feats = clip.encode_text(tok([t.format(name) for t in get_templates('openai_imagenet_7')]))
        feats = feats / feats.norm(dim=-1, keepdim=True)
        mean = feats.mean(0)
        rows.append(mean / mean.norm())
    torch.testing.assert_close(clf.query_embeddings, torch.stack(rows).detach(), atol=1e-6, rtol=1e-5)
    assert clf.query_to_class.tolist() == [0, 0, 1]
    feats = torch.randn(2, 32, 3, 4)
    expected = torch.einsum('bchw,qc->bqhw', F.normalize(feats, dim=1), clf.query_embeddings)
    torch.testing.assert_close(clf(feats), expected)


def test_template_sets():
    assert len(TEMPLATE_SETS['openai_imagenet']) == 80
    assert TEMPLATE_SETS['openai_imagenet'][0] == 'a bad photo of a {}.'
    assert get_templates(['a {} here.']) == ['a {} here.']
    with pytest.raises(ValueError, match='unknown template set'):
        get_templates('nope')
    with pytest.raises(ValueError):
        get_templates(['no placeholder'])


def test_cache_hit_skips_the_text_tower(tiny_clip, tmp_path, monkeypatch):
    first = make(tiny_clip, ['cat', 'dog'], str(tmp_path))
    assert len(glob.glob(str(tmp_path / '*.pt'))) == 1

    def no_text_tower(*args, **kwargs):
        raise AssertionError('text tower rebuilt although the cache holds the embeddings')
    monkeypatch.setattr(text_embeddings, 'build_clip', no_text_tower)
    second = make(tiny_clip, ['cat', 'dog'], str(tmp_path))
    torch.testing.assert_close(first.query_embeddings, second.query_embeddings, rtol=0, atol=0)


def test_cache_key_covers_weights_names_and_templates(tiny_clip, tmp_path):
    from declip_mmseg.testing import write_tiny_clip
    base = make(tiny_clip, ['cat', 'dog'], str(tmp_path)).cache_key()
    assert make(tiny_clip, ['cat', 'bird'], str(tmp_path)).cache_key() != base
    assert make(tiny_clip, ['cat', 'dog'], str(tmp_path), templates='photo').cache_key() != base
    _, other = write_tiny_clip(str(tmp_path / 'other'), seed=1)
    assert make(tiny_clip, ['cat', 'dog'], str(tmp_path), pretrained=other).cache_key() != base
    assert len(glob.glob(str(tmp_path / '*.pt'))) == 4


def test_corrupt_cache_is_rebuilt(tiny_clip, tmp_path):
    good = make(tiny_clip, ['cat', 'dog'], str(tmp_path))
    path = glob.glob(str(tmp_path / '*.pt'))[0]
    with open(path, 'wb') as f:
        f.write(b'not a tensor file')
    again = make(tiny_clip, ['cat', 'dog'], str(tmp_path))
    torch.testing.assert_close(good.query_embeddings, again.query_embeddings)
    torch.load(path, weights_only=True)  # rewritten whole


def test_cache_can_be_disabled(tiny_clip, tmp_path):
    make(tiny_clip, ['cat'], False)
    assert not os.listdir(tmp_path)


def test_synonym_pooling():
    clf = tc.ZeroShotTextClassifier.__new__(tc.ZeroShotTextClassifier)
    torch.nn.Module.__init__(clf)
    from declip_mmseg.text import parse_lines
    clf.vocabulary = parse_lines(['a; b', 'c', 'd; e; f'])
    clf.register_buffer('query_to_class', torch.tensor(clf.vocabulary.query_to_class))
    probs = torch.rand(6, 2, 3)
    pooled = clf.pool_synonyms(probs)
    torch.testing.assert_close(pooled, torch.stack([probs[:2].max(0)[0], probs[2], probs[3:].max(0)[0]]))


@pytest.mark.parametrize('how', ['folder_is_a_file', 'torch_writer_fails', 'read_only'])
def test_unwritable_cache_computes_without_caching(tiny_clip, tmp_path, monkeypatch, how):
    """An unwritable cache folder is a warning; the embeddings are computed all the same."""
    reference = make(tiny_clip, ['cat', 'dog'], False).query_embeddings
    key = make(tiny_clip, ['cat', 'dog'], str(tmp_path / 'probe')).cache_key()
    cache = tmp_path / 'cache'
    if how == 'folder_is_a_file':  # os.makedirs fails
        (tmp_path / 'file').write_text('x')
        cache = tmp_path / 'file' / 'cache'
    elif how == 'torch_writer_fails':  # torch.save's own file writer fails (as on a read-only
        cache.mkdir()                  # folder; root ignores permissions, so block the name)
        (cache / f'{key}.pt.{os.getpid()}.tmp').mkdir()
    else:
        if os.geteuid() == 0:
            pytest.skip('root writes into read-only folders; the other cases cover the path')
        cache.mkdir()
        cache.chmod(0o500)
    warnings = []
    real = text_embeddings.print_log
    monkeypatch.setattr(text_embeddings, 'print_log',
                        lambda msg, *a, **k: (warnings.append(msg), real(msg, *a, **k)))
    clf = make(tiny_clip, ['cat', 'dog'], str(cache))
    torch.testing.assert_close(clf.query_embeddings, reference, rtol=0, atol=0)
    assert any('cannot write the text-embedding cache' in w and str(cache) in w
               and 'DECLIP_CACHE_DIR' in w for w in warnings), warnings
    if how == 'torch_writer_fails':
        assert not os.path.exists(cache / f'{key}.pt')


def test_non_finite_embedding_file_is_refused(tmp_path):
    import numpy as np

    from declip_mmseg.clip import NonFiniteWeightsError
    from declip_mmseg.text import load_embeddings_file
    emb = np.ones((3, 4), np.float32)
    emb[2, 1] = np.nan
    np.save(tmp_path / 'emb.npy', emb)
    with pytest.raises(NonFiniteWeightsError, match=r"emb.npy'.*1 non-finite \(NaN\) of 12"):
        load_embeddings_file(str(tmp_path / 'emb.npy'), 3, '<list>')
