"""Kernels of the metrical-level choice: accent histogram, candidate patterns, their scores.

:mod:`liveai.analysis.level` explains the method and holds the candidates and the model;
these kernels do its numerics once per beat of the model, inside the beat tracker's one
compiled call per hop (:mod:`liveai.dsp.beathop`), so choosing the level costs no Python.

The histogram is ``fine`` (N_SLOTS * N_FINE, N_BANDS): the peak of the activation and of the
low, mid and high onset bands in each eighth of the model's last N_SLOTS beats, slot-major.
A candidate level is a row of ``candidates`` (n_candidates, 3): its tempo ratio to the model's
(0.5, 1 or 2), the parity of the model's beats that are its beats (for ratio 0.5; -1 for any),
and its shift (0.5: the model's off-beats).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Beats of the model kept, bins per beat, detection functions (activation, low, mid, high).
N_SLOTS = 8
N_FINE = 8
N_BANDS = 4
#: Features per candidate: the pattern (4 beats × 4 bins × N_BANDS) and the tempo's place.
N_FEATURES = 4 * 4 * N_BANDS + 2


@njit(cache=True, nogil=True)
def contrast(e):  # pragma: no cover - compiled
    """How far a cycle's strongest position stands out: (max - mean) / mean, 0 if empty."""
    s = 0.0
    top = e[0]
    for v in e:
        s += v
        top = max(top, v)
    m = s / e.shape[0]
    return (top - m) / m if m > 1e-12 else 0.0


@njit(cache=True, nogil=True)
def add(peak, slot, frac, act, low, mid, high):  # pragma: no cover - compiled
    """One hop at phase ``frac`` (0..1) of the model's beat in ``slot``: its peaks per bin.

    ``peak`` (N_SLOTS, N_FINE, N_BANDS) holds the peaks of the beats in progress.
    """
    j = int(frac * N_FINE + 0.5)
    if j >= N_FINE:  # the last sixteenth belongs to the next beat's first bin
        j -= N_FINE
        slot = (slot + 1) % peak.shape[0]
    p = peak[slot, j]
    if act > p[0]:
        p[0] = act
    if low > p[1]:
        p[1] = low
    if mid > p[2]:
        p[2] = mid
    if high > p[3]:
        p[3] = high


@njit(cache=True, nogil=True)
def end_beat(hist, peak, visits, count, metre2, metre3, slot, new_weight,
             metre_decay):  # pragma: no cover - compiled
    """The model's beat in ``slot`` is over: fold its peaks into the running pattern.

    Parameters
    ----------
    hist, peak : float64 (N_SLOTS, N_FINE, N_BANDS)
        The running pattern (updated) and the peaks of the beats in progress (the slot's
        cleared).
    visits : int64 (N_SLOTS,)
        Beats folded into each slot so far.
    count : int64 (1,)
        Beats of the model so far.
    metre2, metre3 : float64 (2,), (3,)
        The low band on the model's beats, by position in cycles of 2 and 3 (decaying).
    slot : int
    new_weight : float
        Weight of the newest beat in its slot's running pattern.
    metre_decay : float
        Memory of ``metre2`` and ``metre3`` per beat.
    """
    count[0] += 1
    low = peak[slot, 0, 1]  # the low band (kick, bass) on the beat
    for e in (metre2, metre3):
        for i in range(e.shape[0]):
            e[i] *= metre_decay
        e[count[0] % e.shape[0]] += low
    first = visits[slot] == 0
    for j in range(N_FINE):
        for b in range(N_BANDS):
            if first:
                hist[slot, j, b] = peak[slot, j, b]
            else:
                hist[slot, j, b] += new_weight * (peak[slot, j, b] - hist[slot, j, b])
            peak[slot, j, b] = 0.0
    visits[slot] += 1


@njit(cache=True, nogil=True)
def pattern(fine, ratio, parity, shift, out):  # pragma: no cover - compiled
    """The accent pattern of one candidate level.

    Parameters
    ----------
    fine : float64 (N_SLOTS * N_FINE, N_BANDS)
        The histogram.
    ratio, parity, shift : float, int, float
        The candidate (``parity`` 0 or 1, used for ratio 0.5).
    out : float64 (4, 4, N_BANDS)
        Out: 4 beats × 4 bins × bands, each bin the peak over its window of eighths averaged
        over the histogram's groups of 4 beats, each band divided by its mean.

    Returns
    -------
    strength : float
        Mean activation peak on the candidate's beats (before the division).
    first : int
        The beat with the strongest activation (rotate by it: ``out[(b + first) % 4]``).
    """
    n = fine.shape[0]
    nb = fine.shape[1]
    beat_len = int(np.rint(N_FINE / ratio))  # fine bins per candidate beat: 8, 4 or 16
    width = beat_len // 4
    half = width // 2
    offset = int(N_FINE * parity) if ratio < 1.0 else int(np.rint(N_FINE * shift))
    groups = (n // beat_len) // 4
    for b in range(4):
        for i in range(4):
            for c in range(nb):
                out[b, i, c] = 0.0
    for g in range(groups):
        for b in range(4):
            for i in range(4):
                at = offset + (4 * g + b) * beat_len + i * width
                for c in range(nb):
                    m = fine[(at - half) % n, c]
                    for w in range(-half + 1, half + 1):
                        m = max(m, fine[(at + w) % n, c])
                    out[b, i, c] += m
    for b in range(4):
        for i in range(4):
            for c in range(nb):
                out[b, i, c] /= groups
    strength = (out[0, 0, 0] + out[1, 0, 0] + out[2, 0, 0] + out[3, 0, 0]) / 4
    for c in range(nb):
        s = 0.0
        for b in range(4):
            for i in range(4):
                s += out[b, i, c]
        s = max(s / 16, 1e-9)
        for b in range(4):
            for i in range(4):
                out[b, i, c] /= s
    first = 0
    for b in range(1, 4):
        if out[b, 0, 0] > out[first, 0, 0]:
            first = b
    return strength, first


@njit(cache=True, nogil=True)
def features(hist, candidates, model_bpm, admit, triple_contrast, metre2, metre3, scratch,
             rows, admitted):  # pragma: no cover - compiled
    """Feature rows of every candidate, and whether the accents admit it.

    Parameters
    ----------
    hist : float64 (N_SLOTS, N_FINE, N_BANDS)
        The running pattern.
    candidates : float64 (n_candidates, 3)
    model_bpm : float
        The model's tempo.
    admit : float
        A candidate's beats must carry at least this share of the activation on the model's.
    triple_contrast : float
        In triple metre (the low band on the model's beats repeats every 3 beats: its
        :func:`contrast` above this and twice that of a 2-beat cycle) the half levels are not
        admitted.
    metre2, metre3 : float64 (2,), (3,)
    scratch : float64 (4, 4, N_BANDS)
    rows : float64 (n_candidates, N_FEATURES)
        Out: the pattern (rotated: strongest beat first), log2(BPM / 100) and its square.
    admitted : float64 (n_candidates,)
        Out: 1 where admitted, else 0.
    """
    fine = hist.reshape((hist.shape[0] * hist.shape[1], hist.shape[2]))
    c3 = contrast(metre3)
    triple = c3 > triple_contrast and c3 > 2.0 * contrast(metre2)
    nb = hist.shape[2]
    s0 = 0.0
    for r in range(candidates.shape[0]):
        ratio = candidates[r, 0]
        strength, first = pattern(fine, ratio, max(int(candidates[r, 1]), 0), candidates[r, 2],
                                  scratch)
        k = 0
        for b in range(4):
            for i in range(4):
                for c in range(nb):
                    rows[r, k] = scratch[(b + first) % 4, i, c]
                    k += 1
        t = np.log2(max(ratio * model_bpm, 1e-3) / 100.0)
        rows[r, k] = t
        rows[r, k + 1] = t * t
        if r == 0:
            s0 = strength
        ok = strength >= admit * s0 and not (triple and ratio == 0.5)
        admitted[r] = 1.0 if ok else 0.0


@njit(cache=True, nogil=True)
def scores(rows, mean, std, w1, b1, w2, out):  # pragma: no cover - compiled
    """The model's score (log-odds up to a constant) that each row is the level people tap.

    ``tanh(((rows - mean) / std) @ w1 + b1) @ w2`` per row: rows (n, n_in), mean and std
    (n_in,), w1 (n_in, n_hidden), b1 and w2 (n_hidden,); out (n,).
    """
    n_in, n_hidden = w1.shape
    for r in range(rows.shape[0]):
        s = 0.0
        for h in range(n_hidden):
            a = b1[h]
            for i in range(n_in):
                a += (rows[r, i] - mean[i]) / std[i] * w1[i, h]
            s += np.tanh(a) * w2[h]
        out[r] = s
