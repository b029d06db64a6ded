"""CAT-Seg: released-format loading, both protocols, class padding / top-k, loss, training."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from declip_mmseg.models.heads.catseg_aggregator import SKIPPED_CLASS_LOGIT
from declip_mmseg.models.segmentors.catseg import catseg_bce
from declip_mmseg.testing.catseg import (
    CATSEG_NAMES,
    build_tiny_catseg,
    tiny_catseg_cfg,
    write_released_catseg,
)
from declip_mmseg.testing.checkpoints import eva_clip_state_dict


def sample(shape, ori_shape):
    return SegDataSample(metainfo=dict(img_shape=shape, ori_shape=ori_shape))


@pytest.fixture(scope='module')
def eva_release(tiny_eva, tmp_path_factory):
    """(model, path): a tiny CAT-Seg on the tiny EVA02, saved in the released format."""
    arch, ckpt = tiny_eva
    model = build_tiny_catseg(arch, pretrained=ckpt)
    path = str(tmp_path_factory.mktemp('catseg') / 'catseg_release.pth')
    return model, write_released_catseg(model, path, 'eva_clip')


def reference_slide(model, img):
    """eval.sh's sliding-window + global protocol written with nn.Unfold / nn.Fold."""
    k, s, size = model.slide_crop, model.slide_stride, model.slide_size
    image = F.interpolate(img, size=size, mode='bilinear', align_corners=False)
    crops = F.unfold(image, kernel_size=k, stride=s)[0].T.reshape(-1, 3, k, k)
    views = torch.cat([crops, F.interpolate(img, size=(k, k), mode='bilinear', align_corners=False)])
    out = F.interpolate(model.network(views), size=(k, k), mode='bilinear', align_corners=False).sigmoid()
    local = F.fold(out[:-1].flatten(1).T[None], size, kernel_size=k, stride=s)
    count = F.fold(F.unfold(torch.ones(1, 1, *size), kernel_size=k, stride=s), size,
                   kernel_size=k, stride=s)
    glob = F.interpolate(out[-1:], size=size, mode='bilinear', align_corners=False)
    return (local / count + glob) / 2


def test_released_eva_file_loads_strictly_and_runs_both_protocols(tiny_eva, eva_release):
    arch, _ = tiny_eva
    original, path = eva_release
    loaded = MODELS.build(tiny_catseg_cfg(arch, checkpoint=path, keep_seg_logits=True)).eval()
    own = original.state_dict()
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, own[key]), key
    torch.manual_seed(1)
    img = torch.randn(1, 3, 40, 56)
    with torch.no_grad():
        assert torch.allclose(loaded.slide_probs(img), reference_slide(original, img), atol=1e-5)
    for mode in ('slide', 'whole'):
        loaded.inference_mode = mode
        out = loaded.predict(img, [sample((40, 56), (50, 70))])[0]
        probs = out.seg_logits.data
        assert probs.shape == (len(CATSEG_NAMES), 50, 70)
        assert probs.min() >= 0 and probs.max() <= 1
        assert torch.equal(out.pred_sem_seg.data, probs.argmax(0, keepdim=True))


def test_whole_protocol_removes_the_padded_strip(tiny_eva, eva_release):
    model = eva_release[0]
    torch.manual_seed(2)
    img = torch.randn(1, 3, 36, 45)  # padded to 40 x 48 (size_divisor 8)
    with torch.no_grad():
        padded = F.pad(img, (0, 3, 0, 4))
        full = F.interpolate(model.network(padded).sigmoid(), size=(40, 48), mode='bilinear')
        assert torch.allclose(model.whole_probs(img), full[:, :, :36, :45], atol=1e-6)
        # the reference's crop [:36, :45] of the 16 x 16 map keeps the whole map
        stretched = F.interpolate(model.network(padded).sigmoid(), size=(36, 45), mode='bilinear')
        assert not torch.allclose(model.whole_probs(img), stretched, atol=1e-3)


def test_openai_split_qkv_release_loads(tiny_clip, tmp_path):
    arch, ckpt = tiny_clip
    model = build_tiny_catseg(arch, pretrained=ckpt, openai=True)
    path = write_released_catseg(model, str(tmp_path / 'model_base.pth'), 'split_qkv')
    loaded = MODELS.build(tiny_catseg_cfg(arch, checkpoint=path, openai=True)).eval()
    img = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(loaded.network(img), model.network(img), atol=1e-5)


def test_wrong_files_are_named(tiny_eva, eva_release, tmp_path):
    arch, ckpt = tiny_eva
    clip_sd = torch.load(ckpt, weights_only=True)
    cases = {
        'backbone.pt': (eva_clip_state_dict(clip_sd, text=False), 'image-tower checkpoint'),
        'clip.pt': (clip_sd, 'a CLIP checkpoint (image and text towers'),
    }
    for name, (state, words) in cases.items():
        torch.save(state, tmp_path / name)
        with pytest.raises(RuntimeError, match='is not a CAT-Seg checkpoint') as err:
            MODELS.build(tiny_catseg_cfg(arch, checkpoint=str(tmp_path / name)))
        assert words in str(err.value) and name in str(err.value)
    state = torch.load(eva_release[1], weights_only=True)['model']
    state.pop('upsample1.bias')
    state['sem_seg_head.predictor.transformer.extra.weight'] = torch.zeros(1)
    torch.save({'model': state}, tmp_path / 'broken.pth')
    with pytest.raises(RuntimeError) as err:
        MODELS.build(tiny_catseg_cfg(arch, checkpoint=str(tmp_path / 'broken.pth')))
    assert 'upsample1.bias' in str(err.value) and 'aggregator.extra.weight' in str(err.value)


def test_class_padding_tokens_take_part(tiny_eva, eva_release):
    model = eva_release[0]
    img = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        before = model.network(img)
        token = model.aggregator.layers[0].attention.padding_tokens
        saved = token.clone()
        token.add_(1.0)
        after = model.network(img)
        token.copy_(saved)
    assert not torch.allclose(before, after)  # 4 classes padded to 8 with the learned tokens


def test_top_k_classes_above_pad_len(tiny_eva):
    arch, ckpt = tiny_eva
    names = [f'thing{i}' for i in range(12)]  # pad_len 8 < 12 classes
    model = build_tiny_catseg(arch, pretrained=ckpt, class_names=names)
    img = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = model.network(img)
        feats, _ = model.extract_feat(img)
        text = F.normalize(model.text_classifier(), dim=-1)
        cost = torch.einsum('bchw,tpc->btphw', F.normalize(feats, dim=1), text)
        expected_top = cost.flatten(2).max(-1).values.topk(8, dim=-1).indices
    for b in range(2):
        skipped = (logits[b] == SKIPPED_CLASS_LOGIT).flatten(1).all(-1)
        assert skipped.sum() == 4
        assert set((~skipped).nonzero().flatten().tolist()) == set(expected_top[b].tolist())


def test_loss_matches_direct_formula():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 5)
    labels = torch.randint(0, 3, (2, 4, 5))
    labels[0, 0, :3] = 255
    terms = []
    for b in range(2):
        for t in range(3):
            for y in range(4):
                for x in range(5):
                    z, lab = logits[b, t, y, x], int(labels[b, y, x])
                    target = 1.0 if lab == t else 0.0  # ignored pixels: all-zero targets
                    terms.append((lab != 255, -(target * F.logsigmoid(z) + (1 - target) * F.logsigmoid(-z))))
    all_terms = torch.stack([v for _, v in terms])
    kept = torch.stack([v for keep, v in terms if keep])
    assert torch.allclose(catseg_bce(logits, labels), all_terms.mean(), atol=1e-6)
    assert torch.allclose(catseg_bce(logits, labels, ignore_as_negative=False), kept.mean(), atol=1e-6)
    with pytest.raises(ValueError, match='class list'):
        catseg_bce(logits, torch.full((2, 4, 5), 7))


@pytest.mark.slow
def test_trainable_set_and_training_steps_lower_the_loss(tiny_eva):
    arch, ckpt = tiny_eva
    model = build_tiny_catseg(arch, pretrained=ckpt).train()
    clip_trainable = sorted(n for n, p in model.named_parameters()
                            if p.requires_grad and n.startswith(('backbone.', 'text_classifier.')))
    assert clip_trainable and all(
        n.endswith(('attn.q_proj.weight', 'attn.v_proj.weight', 'attn.in_proj_weight'))
        for n in clip_trainable)
    assert any('text' in n for n in clip_trainable) and any('q_proj' in n for n in clip_trainable)
    assert all(p.requires_grad for n, p in model.named_parameters() if n.startswith('aggregator.'))
    torch.manual_seed(0)
    img = torch.randn(2, 3, 32, 32)
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 4, (1, 32, 32)))
        samples.append(s)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    losses = []
    for _ in range(4):
        loss = model.loss(img, samples)['loss_sem_seg']
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_text_embeddings_follow_text_tower_changes(tiny_eva):
    """Quirk 5 fixed: cached embeddings are recomputed after the text tower changes."""
    arch, ckpt = tiny_eva
    model = build_tiny_catseg(arch, pretrained=ckpt)
    encoder = model.text_classifier
    first = encoder().clone()
    assert encoder() is encoder()  # cached while nothing changes
    with torch.no_grad():
        encoder.clip.text.transformer.resblocks[0].attn.in_proj_weight.add_(0.5)  # trained in CAT-Seg
    assert not torch.allclose(encoder(), first)
    encoder.set_vocabulary(['sky', 'dog'])
    assert encoder().shape[0] == 2


def test_synonym_rules(tiny_eva):
    arch, ckpt = tiny_eva
    first = build_tiny_catseg(arch, pretrained=ckpt)
    assert first.text_classifier.names == ['cat', 'dog', 'grass', 'sky']
    mean = build_tiny_catseg(arch, pretrained=ckpt, text_classifier=dict(
        type='CATSegTextEncoder', class_names=CATSEG_NAMES, synonyms='mean',
        templates=['A photo of a {} in the scene']))
    a, b = first.text_classifier(), mean.text_classifier()
    assert torch.allclose(a[1], b[1], atol=1e-6)  # 'dog' has no synonym
    assert not torch.allclose(a[0], b[0])
