"""Kernels for onsets, tempo and beats.

Spectral flux, adaptive thresholds, comb-filtered autocorrelation, and a causal cumulative-score
beat tracker.

All kernels are ``@njit(cache=True, nogil=True)``, take their state and outputs as arguments and
allocate nothing; the streaming wrappers in :mod:`liveai.analysis` own the state.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Compression of magnitudes before the flux: ``log1p(LOG_GAIN * amplitude)``.
LOG_GAIN = 1000.0


@njit(cache=True, nogil=True)
def band_flux(spec, amp_scale, prev_log, band_lo, band_hi, out):  # pragma: no cover
    """Half-wave rectified log-magnitude flux per band, then remember this frame.

    Parameters
    ----------
    spec : complex128 (n_bins,)
        ``rfft`` of the windowed frame.
    amp_scale : float
        Turns |X| into a sinusoid's amplitude (``2 / sum(window)``).
    prev_log : float64 (n_bins,)
        The previous frame's ``log1p(LOG_GAIN * amplitude)``; updated in place.
    band_lo, band_hi : int64 (n_bands,)
        Bin range of each band.
    out : float64 (n_bands,)
        Mean positive change per bin in each band.
    """
    for b in range(band_lo.shape[0]):
        out[b] = 0.0
    n_bins = prev_log.shape[0]
    for k in range(n_bins):
        re = spec[k].real
        im = spec[k].imag
        lg = np.log1p(LOG_GAIN * amp_scale * np.sqrt(re * re + im * im))
        d = lg - prev_log[k]
        prev_log[k] = lg
        if d > 0.0:
            for b in range(band_lo.shape[0]):
                if band_lo[b] <= k < band_hi[b]:
                    out[b] += d
    for b in range(band_lo.shape[0]):
        out[b] /= max(band_hi[b] - band_lo[b], 1)


@njit(cache=True, nogil=True)
def pick_onsets(odf, mean, dev, prev, since, peak, decay, peak_decay, k_dev, floor, min_rel,
                refractory, onset, strength):  # pragma: no cover - compiled
    """Adaptive-threshold onset decision per channel, one frame.

    An onset fires on the first frame whose value rises above ``mean + k_dev * dev + floor``
    (running mean and mean absolute deviation, updated after the decision) and reaches
    ``min_rel`` of the channel's slowly decaying peak, at least ``refractory`` frames after the
    previous one, so it is reported in the hop it happens. The peak test keeps the spill of a
    loud hit in one band (a hat's click in the kick band) from counting as that band's onset.

    Parameters
    ----------
    odf : float64 (n,)
        This frame's detection function values.
    mean, dev, prev, since, peak : float64 (n,)
        State: running mean, running deviation, previous value, frames since the last onset,
        decaying peak.
    decay, peak_decay : float
        Per-frame decay of the running statistics and of the peak.
    onset : int64 (n,)
        Out: 1 where an onset fires.
    strength : float32 (n,)
        Out: 0..1, how far above its running level this frame is.
    """
    for c in range(odf.shape[0]):
        x = odf[c]
        peak[c] = max(x, peak[c] * peak_decay)
        thr = mean[c] + k_dev * dev[c] + floor
        s = (x - mean[c]) / (4.0 * dev[c] + floor)
        strength[c] = 0.0 if s < 0.0 else (1.0 if s > 1.0 else s)
        fire = x > thr and x > prev[c] and since[c] >= refractory and x >= min_rel * peak[c]
        onset[c] = 1 if fire else 0
        since[c] = 0.0 if fire else since[c] + 1.0
        mean[c] = decay * mean[c] + (1.0 - decay) * x
        dev[c] = decay * dev[c] + (1.0 - decay) * abs(x - mean[c])
        prev[c] = x


@njit(cache=True, nogil=True)
def comb_acf(env, smooth, acf, lag_min, lag_max, lag_step, n_harm, fps, prior_bpm,
             prior_octaves, half_penalty, out):  # pragma: no cover - compiled
    """Comb-filtered autocorrelation of an onset envelope on a fractional lag grid.

    The envelope is smoothed (1-2-1, twice) and its mean removed, its autocorrelation computed
    once, then each candidate lag ``L = lag_min + i * lag_step`` scores
    ``prior(L) * (sum_{h=1..n_harm} acf(h * L) / h - half_penalty * acf(L / 2))`` with ``acf``
    linearly interpolated, so a beat period that falls between two hops (37.5 hops at 150 BPM)
    is not split between them. The comb alone scores a pulse train and its half tempo almost
    alike; the penalty says "if there is a pulse at half this period, this is too slow".

    Parameters
    ----------
    env : float64 (n,)
        Onset envelope, newest last.
    smooth : float64 (n,)
        Scratch.
    acf : float64 (>= n_harm * lag_max + 2,)
        Scratch.
    fps : float
        Envelope frames per second.
    prior_bpm, prior_octaves : float
        Log-Gaussian tempo prior.
    half_penalty : float
        Weight of the autocorrelation at half the candidate lag, subtracted from its score.
    out : float64 (n_lags,)
        Scores, ``n_lags = (lag_max - lag_min) / lag_step + 1``.
    """
    n = env.shape[0]
    for rep in range(2):
        src = env if rep == 0 else smooth
        prev = src[0]
        for i in range(n):
            cur = src[i]
            nxt = src[i + 1] if i + 1 < n else cur
            smooth[i] = 0.25 * prev + 0.5 * cur + 0.25 * nxt
            prev = cur
    m = 0.0
    for i in range(n):
        m += smooth[i]
    m /= n
    n_acf = acf.shape[0]
    for lag in range(n_acf):
        r = 0.0
        if lag < n:
            for i in range(lag, n):
                r += (smooth[i] - m) * (smooth[i - lag] - m)
            r /= n - lag
        acf[lag] = r
    for i in range(out.shape[0]):
        lag = lag_min + i * lag_step
        acc = 0.0
        for h in range(1, n_harm + 1):
            x = lag * h
            k = int(x)
            if k + 1 >= n_acf or k + 1 >= n:
                break
            f = x - k
            acc += ((1.0 - f) * acf[k] + f * acf[k + 1]) / h
        x = 0.5 * lag
        k = int(x)
        f = x - k
        if k + 1 < n_acf:
            acc -= half_penalty * ((1.0 - f) * acf[k] + f * acf[k + 1])
        bpm = 60.0 * fps / lag
        z = np.log2(bpm / prior_bpm) / prior_octaves
        out[i] = acc * np.exp(-0.5 * z * z)


@njit(cache=True, nogil=True)
def cumulative_score(cscore, onset_value, period, alpha, tightness):  # pragma: no cover
    """Append one value to the cumulative beat score (shifting ``cscore`` left by one).

    ``C[n] = (1 - alpha) * O[n] + alpha * max_v W(v) * C[n - v]`` for ``v`` in
    ``[period / 2, 2 * period]``, ``W`` a log-Gaussian around one period.
    """
    n = cscore.shape[0]
    best = 0.0
    v_lo = max(1, int(round(period / 2.0)))
    v_hi = min(n - 1, int(round(2.0 * period)))
    for v in range(v_lo, v_hi + 1):
        w = np.exp(-0.5 * (tightness * np.log(v / period)) ** 2)
        c = w * cscore[n - v]
        if c > best:
            best = c
    for i in range(n - 1):
        cscore[i] = cscore[i + 1]
    cscore[n - 1] = (1.0 - alpha) * onset_value + alpha * best


@njit(cache=True, nogil=True)
def predict_next_beat(cscore, future, period, alpha, tightness, expected):  # pragma: no cover
    """Project the cumulative score one period ahead (no new onsets) and pick the next beat.

    Parameters
    ----------
    cscore : float64 (n,)
        Cumulative score, newest last.
    future : float64 (m,)
        Scratch, ``m >= 2 * period``.
    expected : float
        Frames from now to the beat the tempo alone predicts.

    Returns
    -------
    int
        Frames from now (>= 1) to the predicted beat.
    """
    n = cscore.shape[0]
    horizon = min(future.shape[0], int(round(expected + period / 2.0)) + 1)
    best_j = max(1, int(round(expected)))
    best = 0.0  # with nothing to go on, keep the beat the tempo alone predicts
    sigma = max(period / 6.0, 1.0)
    for j in range(1, horizon):
        # C[n-1+j] from the history and the already projected future values.
        acc = 0.0
        v_lo = max(1, int(round(period / 2.0)))
        v_hi = int(round(2.0 * period))
        for v in range(v_lo, v_hi + 1):
            idx = j - v  # relative to "now" (0 = the newest known value)
            if idx > 0:
                c = future[idx]
            elif n - 1 + idx >= 0:
                c = cscore[n - 1 + idx]
            else:
                continue
            w = np.exp(-0.5 * (tightness * np.log(v / period)) ** 2)
            if w * c > acc:
                acc = w * c
        future[j] = alpha * acc
        score = future[j] * np.exp(-0.5 * ((j - expected) / sigma) ** 2)
        if score > best:
            best = score
            best_j = j
    return best_j


@njit(cache=True, nogil=True)
def push(buf, value):  # pragma: no cover - compiled
    """Shift ``buf`` left by one and put ``value`` last, in place."""
    n = buf.shape[0]
    for i in range(n - 1):
        buf[i] = buf[i + 1]
    buf[n - 1] = value


def warm_up() -> None:
    """Compile (or load) every kernel here with the argument types the analysers use."""
    spec = np.zeros(9, dtype=np.complex128)
    prev = np.zeros(9)
    lo = np.array([0, 2], dtype=np.int64)
    hi = np.array([4, 9], dtype=np.int64)
    out = np.zeros(2)
    band_flux(spec, 1.0, prev, lo, hi, out)
    z = np.zeros(2)
    pick_onsets(out, z.copy(), z.copy(), z.copy(), z.copy(), z.copy(), 0.9, 0.99, 1.0, 0.01,
                0.25, 2.0, np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.float32))
    env = np.zeros(64)
    comb_acf(env, np.zeros(64), np.zeros(20), 4.0, 8.0, 0.5, 2, 90.0, 120.0, 1.0, 0.5,
             np.zeros(9))
    cs = np.zeros(32)
    cumulative_score(cs, 0.0, 8.0, 0.9, 5.0)
    predict_next_beat(cs, np.zeros(32), 8.0, 0.9, 5.0, 8.0)
    push(cs, 0.0)
