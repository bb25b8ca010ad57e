"""Kernels for onsets: spectral flux per band and adaptive thresholds.

The beat tracker's kernels are in :mod:`liveai.dsp.beatstate`.

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
