"""Reference formulas written out directly (attention weights, NACLIP's bias, DenseVLM's loss),
shared by the tests that check the package against them."""
import math

import torch

MODES = ['qk', 'qq', 'kk', 'vv', 'csa', 'all', 'naclip', 'identity']


def softmax(x):
    e = torch.exp(x - x.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def naclip_bias(gh, gw, sigma=5.0):
    """NACLIP's omega written out: Gaussian of the patch distance, zero for the class token."""
    n = gh * gw
    omega = torch.zeros(1 + n, 1 + n)
    for a in range(n):
        for b in range(n):
            dy, dx = a // gw - b // gw, a % gw - b % gw
            omega[1 + a, 1 + b] = math.exp(-(dy * dy + dx * dx) / (2 * sigma * sigma))
    return omega


def weights_formula(mode, q, k, v, s, grid=None):
    """Attention weights of one head, (N, d) inputs -> (N, N)."""
    if mode == 'qk':
        return softmax(q @ k.T * s)
    if mode == 'qq':
        return softmax(q @ q.T * s)
    if mode == 'kk':
        return softmax(k @ k.T * s)
    if mode == 'vv':
        return softmax(v @ v.T * s)
    if mode == 'csa':
        return softmax(q @ q.T * s) + softmax(k @ k.T * s)
    if mode == 'all':
        return softmax((q @ q.T * s + k @ k.T * s + v @ v.T * s) / 3)
    if mode == 'naclip':
        return softmax(k @ k.T * s + naclip_bias(*grid))
    if mode == 'identity':
        return torch.eye(q.shape[0])
    raise AssertionError(mode)



def as_map(t, gh, gw):
    return t.transpose(1, 2).reshape(t.shape[0], t.shape[2], gh, gw)



# DenseVLM: 12 classes, 0..4 things
K, THING = 12, 5


def densevlm_loss_reference(t_feat, s_feat, t_text, s_text, thing=THING, tau=100.0, thr=0.3):
    """DenseVLM.__call__ (training/densevlm.py) written out row by row in float64."""
    t = [f / f.norm() for f in t_feat.double()]
    s = [f / f.norm() for f in s_feat.double()]
    E_P, E_U = t_text.double(), s_text.double()

    def softmax(v):
        e = [math.exp(x - max(v)) for x in v]
        return [x / sum(e) for x in e]

    def kl(p, q):
        return sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q) if pi > 0)

    kept = []
    for tf, sf in zip(t, s):
        p = softmax([float(tau * tf @ e) for e in E_P])
        if max(p) > thr:
            kept.append((tf, sf, p.index(max(p))))
    if not kept:
        return None
    things = [(tf, sf) for tf, sf, c in kept if c < thing]
    stuffs = [(tf, sf) for tf, sf, c in kept if c >= thing]

    def term(rows, n):
        return sum(kl(softmax([float(tau * tf @ e) for e in E_P[:n]]),
                      softmax([float(tau * sf @ e) for e in E_U[:n]])) for tf, sf in rows) / len(rows)
    if not things:
        return term([(tf, sf) for tf, sf, _ in kept], len(E_P))
    loss = term(things, thing)
    if stuffs:
        loss += term(stuffs, len(E_P))
    return loss

