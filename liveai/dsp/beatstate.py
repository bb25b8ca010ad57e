"""Kernels for the causal beat tracker: a rhythm detection function and a beat-pointer HMM.

The detection function is a log-magnitude, log-frequency filtered spectral flux with a
SuperFlux-style maximum filter over frequency (Böck & Widmer 2013): a partial that only
wobbles in frequency (vibrato, a reverb tail) does not count as new energy.

The state space is the beat-pointer model of Krebs, Böck & Widmer (2015), run forward only
(filtering, as madmom's online DBN beat tracker): each tempo state ``t`` has an integer beat
interval ``N_t`` (frames per beat) and ``N_t`` phase positions; the pointer advances one
position per frame, and only at the end of a beat may it move to another tempo, with
probability ``exp(-lambda * |N_t' / N_t - 1|)``. The first positions of each beat (the beat
region) expect a high detection value, the rest a low one.

All kernels are ``@njit(cache=True, nogil=True)``, take their state and outputs as arguments and
allocate nothing; :class:`liveai.analysis.rhythm.BeatTracker` owns the state.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from liveai.dsp import fastlog

#: Log compression of the filtered magnitudes: ``log1p(FLUX_GAIN * amplitude)``.
FLUX_GAIN = 1000.0


def log_filterbank(sample_rate_hz: int, n_fft: int, f_min_hz: float = 30.0,
                   f_max_hz: float = 16000.0, bands_per_octave: int = 12) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """Bin ranges of log-spaced bands, merged where they would be narrower than one bin.

    Returns
    -------
    lo, hi : np.ndarray, shape (n_bands,), int64
        Each band covers the FFT bins ``lo[b] <= k < hi[b]``.
    """
    f_max_hz = min(f_max_hz, 0.95 * sample_rate_hz / 2)
    n_oct = np.log2(f_max_hz / f_min_hz)
    edges_hz = f_min_hz * 2.0 ** (np.arange(int(n_oct * bands_per_octave) + 2) / bands_per_octave)
    edges = np.unique(np.round(edges_hz * n_fft / sample_rate_hz).astype(np.int64))  # [bins]
    edges = edges[(edges >= 1) & (edges <= n_fft // 2)]
    return edges[:-1].copy(), edges[1:].copy()


@njit(cache=True, nogil=True, inline="always")
def band_span(band_lo, band_hi, n_bins):  # pragma: no cover - compiled
    """The bins some band covers: ``k_lo <= k < k_hi`` (within ``n_bins``)."""
    k_lo = n_bins
    k_hi = 0
    for b in range(band_lo.shape[0]):
        k_lo = min(k_lo, band_lo[b])
        k_hi = max(k_hi, band_hi[b])
    return k_lo, min(k_hi, n_bins)


@njit(cache=True, nogil=True, error_model="numpy")
def superflux(spec, amp_scale, band_lo, band_hi, low_bands, low_weight, prev, cur, out,
              scratch):  # pragma: no cover - compiled
    """Log filtered spectral flux with a maximum filter over frequency, one frame.

    Parameters
    ----------
    spec : complex128 (n_bins,)
        ``rfft`` of the windowed frame.
    amp_scale : float
        Turns |X| into a sinusoid's amplitude.
    band_lo, band_hi : int64 (n_bands,)
        Bin range of each band (:func:`log_filterbank`).
    low_bands : int
        The first ``low_bands`` bands are the low band (kick, bass).
    low_weight : float
        Extra weight of the low bands in the overall flux.
    prev : float64 (n_bands,)
        The previous frame's log band magnitudes; updated in place.
    cur : float64 (n_bands,)
        Scratch.
    out : float64 (2,)
        Out: overall (weighted) flux per band, low-band flux per band.
    scratch : float64 (>= n_bins,)
        Scratch: the bins' magnitudes.
    """
    nb = band_lo.shape[0]
    k_lo, k_hi = band_span(band_lo, band_hi, spec.shape[0])
    # Magnitudes and logarithms in branch-free loops of their own (they vectorise); the sums
    # per band stay in bin order.
    x = spec[k_lo:k_hi]  # sliced: an index from 0 drops numba's negative-index check
    mag = scratch[k_lo:k_hi]
    for k in range(x.shape[0]):
        re = x[k].real
        im = x[k].imag
        mag[k] = np.sqrt(re * re + im * im)
    for b in range(nb):
        acc = 0.0
        for k in range(band_lo[b], band_hi[b]):
            acc += scratch[k]
        cur[b] = acc * (amp_scale / np.sqrt(band_hi[b] - band_lo[b]))
    for b in range(nb):
        cur[b] = fastlog.log1p(FLUX_GAIN * cur[b])
    total = 0.0
    low = 0.0
    for b in range(nb):
        ref = prev[b]
        if b > 0 and prev[b - 1] > ref:
            ref = prev[b - 1]
        if b + 1 < nb and prev[b + 1] > ref:
            ref = prev[b + 1]
        d = cur[b] - ref
        if d > 0.0:
            if b < low_bands:
                low += d
                total += low_weight * d
            else:
                total += d
    for b in range(nb):
        prev[b] = cur[b]
    out[0] = total / (nb + (low_weight - 1.0) * low_bands)
    out[1] = low / max(low_bands, 1)


@njit(cache=True, nogil=True)
def transition_matrix(intervals, lam, out):  # pragma: no cover - compiled
    """Tempo change probabilities at the end of a beat, rows normalised.

    ``out[t, u] ∝ exp(-lam * |N_u / N_t - 1|)``.
    """
    n = intervals.shape[0]
    for t in range(n):
        s = 0.0
        for u in range(n):
            v = np.exp(-lam * abs(intervals[u] / intervals[t] - 1.0))
            if v < 1e-12:
                v = 0.0
            out[t, u] = v
            s += v
        for u in range(n):
            out[t, u] /= s


#: Sums in the forward step may be reassociated (vectorised): they differ from a left-to-right
#: sum by float rounding only (about 1e-13 relative over ~3500 states); nothing else is relaxed.
_REASSOC = {"reassoc", "nsz"}


@njit(cache=True, nogil=True, fastmath=_REASSOC)
def _copy_scaled(src, dst, scale):  # pragma: no cover - compiled
    """``dst[i] = src[i] * scale``; return ``sum(src)`` (``src``, ``dst`` of equal length)."""
    s = 0.0
    for i in range(dst.shape[0]):
        v = src[i]
        s += v
        dst[i] = v * scale
    return s


@njit(cache=True, nogil=True)
def _scale_offset(src, dst, scale, offset):  # pragma: no cover - compiled
    """``dst[i] = src[i] * scale + offset`` (``src``, ``dst`` of equal length)."""
    for i in range(dst.shape[0]):
        dst[i] = src[i] * scale + offset


@njit(cache=True, nogil=True)
def _first_argmax(x):  # pragma: no cover - compiled
    """Index of the first largest value of ``x`` (n,), as ``np.argmax``, n >= 1.

    The maximum is found in four independent chains (a maximum is exact in any order, so the
    result is the same), then its first occurrence.
    """
    n = x.shape[0]
    m0 = m1 = m2 = m3 = x[0]
    i = 0
    while i + 4 <= n:
        m0 = x[i] if x[i] > m0 else m0
        m1 = x[i + 1] if x[i + 1] > m1 else m1
        m2 = x[i + 2] if x[i + 2] > m2 else m2
        m3 = x[i + 3] if x[i + 3] > m3 else m3
        i += 4
    while i < n:
        m0 = x[i] if x[i] > m0 else m0
        i += 1
    m0 = m1 if m1 > m0 else m0
    m2 = m3 if m3 > m2 else m2
    m0 = m2 if m2 > m0 else m0
    for i in range(n):
        if x[i] == m0:
            return i
    return 0


@njit(cache=True, nogil=True)
def forward_step(alpha, pred, offsets, intervals, beat_len, tm, tempo_weight, act, obs_lambda,
                 floor, marg, info):  # pragma: no cover - compiled
    """One forward (filtering) step of the beat-pointer HMM.

    Parameters
    ----------
    alpha : float64 (n_states,)
        Posterior of the previous frame; replaced by this frame's.
    pred : float64 (n_states,)
        Scratch.
    offsets, intervals, beat_len : int64 (n_tempi,)
        First state, beat interval [frames] and beat-region length [frames] of each tempo.
    tm : float64 (n_tempi, n_tempi)
        :func:`transition_matrix`.
    tempo_weight : float64 (n_tempi,)
        Prior weight of each tempo, applied every frame.
    act : float
        This frame's beat activation, 0..1; negative for none (every state alike).
    obs_lambda : float
        The beat region is ``1 / obs_lambda`` of a beat; off-beat positions see
        ``(1 - act) / (obs_lambda - 1)``, beat positions ``act``.
    floor : float
        Probability mixed in uniformly each frame (recovery from a wrong lock).
    marg : float64 (n_tempi,)
        Out: posterior probability of each tempo.
    info : float64 (7,)
        Out: log(likelihood / likelihood under a uniform phase) of this frame, the most
        probable state's tempo index, its phase position, the posterior mean interval
        [frames], the posterior probability of the most probable tempo, and the posterior
        probability that this frame is in a beat region, and that probability predicted
        before this frame's observation.

    Notes
    -----
    Two passes over the states: the first moves every pointer on and weighs it by the
    observation (per tempo, summing the beat region and the whole beat as it goes), the second
    normalises. Every per-tempo sum the outputs need comes from the first pass's sums, so the
    second pass is one flat multiply-add and the passes vectorise.
    """
    nt = intervals.shape[0]
    ns = alpha.shape[0]
    ob = act * (1.0 - 2e-3) + 1e-3
    on = (1.0 - act) * (1.0 - 2e-3) / (obs_lambda - 1.0) + 1e-3 / (obs_lambda - 1.0)
    if act < 0.0:  # no observation: the pointer just moves on
        ob = 1.0
        on = 1.0
    # The mass that ends a beat moves to the start of any tempo; marg holds each tempo's
    # start until the end. Row by row, so the inner loop is contiguous (and a zero weight
    # adds an exact 0: the sums are the column sums of the weights that are not 0).
    for u in range(nt):
        marg[u] = 0.0
    for t in range(nt):
        a = alpha[offsets[t] + intervals[t] - 1]
        row = tm[t]
        for u in range(nt):
            marg[u] += a * row[u]
    pb = 0.0  # in a beat region, predicted
    c = 0.0  # the observation's likelihood
    c0 = 0.0  # ... under a uniform phase
    in_beat = 0.0
    for t in range(nt):
        o = offsets[t]
        n = intervals[t]
        nb = min(beat_len[t], n)
        tw = tempo_weight[t]
        obt = ob * tw
        ont = on * tw
        start = marg[t]
        # advance one position within the beat, all weighed as off-beat; then the beat region
        total = start + _copy_scaled(alpha[o : o + n - 1], pred[o + 1 : o + n], ont)
        sb = 0.0
        if nb > 0:
            sb = start
            pred[o] = start * obt
            for p in range(1, nb):
                v = alpha[o + p - 1]
                sb += v
                pred[o + p] = v * obt
        else:
            pred[o] = start * ont
        pb += sb
        m = obt * sb + ont * (total - sb)  # the tempo's mass after the observation
        c += m
        c0 += total * tw * (nb * ob + (n - nb) * on) / n
        marg[t] = m
        in_beat += obt * sb
    if c <= 0.0:
        c = 1e-300
    scale = (1.0 - floor) / c
    base = floor / ns
    _scale_offset(pred, alpha, scale, base)
    best_tv = -1.0
    best_t = 0
    in_beat *= scale
    for t in range(nt):
        m = marg[t] * scale + intervals[t] * base
        marg[t] = m
        in_beat += min(beat_len[t], intervals[t]) * base
        if m > best_tv:
            best_tv = m
            best_t = t
    best = _first_argmax(alpha)
    # the posterior mean interval around the most probable tempo (within 10 %)
    s = 0.0
    mean_n = 0.0
    for t in range(nt):
        if abs(intervals[t] - intervals[best_t]) <= 0.1 * intervals[best_t] + 1.0:
            mean_n += marg[t] * intervals[t]
            s += marg[t]
    mean_n /= max(s, 1e-300)
    # tempo and phase of the most probable state
    t_best = 0
    for t in range(nt):
        if offsets[t] <= best:
            t_best = t
    info[0] = np.log(c / max(c0, 1e-300))
    info[1] = t_best
    info[2] = best - offsets[t_best]
    info[3] = mean_n
    info[4] = best_tv
    info[5] = in_beat
    info[6] = pb


@njit(cache=True, nogil=True)
def set_state(alpha, offsets, intervals, interval, phase, spread):  # pragma: no cover
    """Put the posterior on one tempo and phase (a tap, an external clock).

    ``interval`` [frames] and ``phase`` (0..1 of a beat) are fractional: the nearest tempo
    states share the probability, each with the phase position nearest to ``phase``;
    ``spread`` (0..1) of the mass goes uniformly to every state.
    """
    nt = intervals.shape[0]
    ns = alpha.shape[0]
    for i in range(ns):
        alpha[i] = spread / ns
    total = 0.0
    for t in range(nt):
        w = np.exp(-0.5 * ((intervals[t] - interval) / max(0.02 * interval, 0.5)) ** 2)
        total += w
    for t in range(nt):
        w = np.exp(-0.5 * ((intervals[t] - interval) / max(0.02 * interval, 0.5)) ** 2)
        n = intervals[t]
        p = int(np.floor(phase * n + 0.5)) % n
        alpha[offsets[t] + p] += (1.0 - spread) * w / total


@njit(cache=True, nogil=True)
def shift_phase(alpha, scratch, offsets, intervals, frames):  # pragma: no cover - compiled
    """Move every state's phase back by ``frames`` positions (the beat comes later).

    Negative ``frames`` move it forward (the beat comes earlier).
    """
    nt = intervals.shape[0]
    for t in range(nt):
        o = offsets[t]
        n = intervals[t]
        for p in range(n):
            scratch[p] = alpha[o + ((p + frames) % n + n) % n]
        for p in range(n):
            alpha[o + p] = scratch[p]


def warm_up() -> None:
    """Compile (or load) every kernel here with the argument types the tracker uses."""
    lo = np.array([1, 2], dtype=np.int64)
    hi = np.array([2, 4], dtype=np.int64)
    superflux(np.zeros(9, dtype=np.complex128), 1.0, lo, hi, 1, 2.0, np.zeros(2),
              np.zeros(2), np.zeros(2), np.zeros(9))
    intervals = np.array([4, 5], dtype=np.int64)
    offsets = np.array([0, 4], dtype=np.int64)
    tm = np.zeros((2, 2))
    transition_matrix(intervals, 100.0, tm)
    alpha = np.full(9, 1.0 / 9)
    forward_step(alpha, np.zeros(9), offsets, intervals, np.ones(2, dtype=np.int64), tm,
                 np.ones(2), 0.5, 16.0, 1e-6, np.zeros(2), np.zeros(7))
    set_state(alpha, offsets, intervals, 4.5, 0.0, 0.01)
    shift_phase(alpha, np.zeros(9), offsets, intervals, 1)
