"""Kernels for onsets: spectral flux per band, adaptive thresholds, and both detection functions.

:func:`onset_hop` runs one hop of the onsets' and the beat tracker's detection functions in one
call.

The beat tracker's kernels are in :mod:`liveai.dsp.beatstate`.

All kernels are ``@njit(cache=True, nogil=True)``, take their state and outputs as arguments and
allocate nothing; the streaming wrappers in :mod:`liveai.analysis` own the state.
"""

from __future__ import annotations

import numpy as np
import rocket_fft  # noqa: F401  # np.fft inside numba kernels (pocketfft, as numpy's own)
from numba import njit

from liveai.dsp import fastlog
from liveai.dsp.beatstate import band_span, superflux

#: Compression of magnitudes before the flux: ``log1p(LOG_GAIN * amplitude)``.
LOG_GAIN = 1000.0


@njit(cache=True, nogil=True, error_model="numpy")
def band_flux(spec, amp_scale, prev_log, band_lo, band_hi, out, scratch):  # pragma: no cover
    """Half-wave rectified log-magnitude flux per band, then remember this frame.

    Parameters
    ----------
    spec : complex128 (n_bins,)
        ``rfft`` of the windowed frame.
    amp_scale : float
        Turns |X| into a sinusoid's amplitude (``2 / sum(window)``).
    prev_log : float64 (n_bins,)
        The previous frame's ``log1p(LOG_GAIN * amplitude)``; updated in place (bins in no
        band are neither read nor written).
    band_lo, band_hi : int64 (n_bands,)
        Bin range of each band.
    out : float64 (n_bands,)
        Mean positive change per bin in each band.
    scratch : float64 (>= n_bins,)
        Scratch: each bin's positive change.
    """
    n_bands = band_lo.shape[0]
    k_lo, k_hi = band_span(band_lo, band_hi, prev_log.shape[0])
    # Bins outside every band count nowhere: their logarithms (most of the cost) are skipped.
    # One branch-free loop (it vectorises), then the sums per band in bin order: a change
    # that is not positive adds an exact 0.
    # (Slices, so that the loop index starts at 0: numba then drops its negative-index check,
    # which would keep the loop scalar.)
    gain = LOG_GAIN * amp_scale
    x = spec[k_lo:k_hi]
    prev = prev_log[k_lo:k_hi]
    pos = scratch[k_lo:k_hi]
    for k in range(x.shape[0]):
        re = x[k].real
        im = x[k].imag
        lg = fastlog.log1p(gain * np.sqrt(re * re + im * im))
        d = lg - prev[k]
        prev[k] = lg
        pos[k] = d if d > 0.0 else 0.0
    for b in range(n_bands):
        acc = 0.0
        for k in range(band_lo[b], band_hi[b]):
            acc += scratch[k]
        out[b] = acc / max(band_hi[b] - band_lo[b], 1)


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
def _windowed_rfft(history, window, windowed, spec):  # pragma: no cover - compiled
    """``spec = rfft(history[-n:] * window)``, ``n = len(window)``."""
    x = history[history.shape[0] - window.shape[0] :]  # sliced: the loop below vectorises
    for i in range(window.shape[0]):
        windowed[i] = x[i] * window[i]
    # pocketfft (through rocket-fft) takes a small, fixed-size scratch from the heap per call.
    np.fft.rfft(windowed, out=spec)


@njit(cache=True, nogil=True)
def onset_hop(history, window, windowed, spec, amp_scale, prev_log, band_lo, band_hi, odf,
              stats, n_frames, decay, peak_decay, k_dev, floor, min_rel, refractory, onset,
              strength, counts, rhythm_rfft, rwindow, rwindowed, rspec, ramp_scale, fb_lo, fb_hi,
              low_bands, low_weight, fb_prev, fb_cur, rhythm_odf):  # pragma: no cover - compiled
    """One hop of onset detection and of the beat tracker's detection function, in one call.

    Parameters
    ----------
    history : float64 (>= max(n, n_rhythm),)
        Mono input, newest sample last.
    window, windowed : float64 (n,)
        The onset frame's window and scratch.
    spec : complex128 (n // 2 + 1,)
        Out: the onset frame's rfft.
    amp_scale, prev_log, band_lo, band_hi
        As :func:`band_flux`.
    odf : float64 (n_bands,)
        Out: this hop's flux per band (overall, low, mid, high).
    stats : float64 (5, n_bands)
        :func:`pick_onsets`'s state: running mean, running deviation, previous value, frames
        since the last onset, decaying peak; updated in place.
    n_frames : int64 (1,)
        Frames seen; incremented.
    decay : float
        Per-frame decay of the running statistics once their memory is full. Until then they
        use a short, growing one (as if 15 quiet frames came first): starting them at a full
        memory of zeros would make steady noise fire every refractory period.
    peak_decay, k_dev, floor, min_rel, refractory, onset, strength
        As :func:`pick_onsets`.
    counts : int64 (n_bands,)
        Onsets so far per band; incremented where one fires.
    rhythm_rfft : bool
        Compute the rhythm frame's rfft here. False: ``rspec`` already holds it (the level
        analyser's spectrum is the same transform of the same samples, so the pipeline
        computes it once).
    rwindow, rwindowed : float64 (n_rhythm,)
        The rhythm frame's window and scratch (superflux's, too).
    rspec : complex128 (n_rhythm // 2 + 1,)
        Out (in, when not ``rhythm_rfft``): the rhythm frame's rfft,
        ``rfft(history[-n_rhythm:] * rwindow)``.
    ramp_scale, fb_lo, fb_hi, low_bands, low_weight, fb_prev, fb_cur, rhythm_odf
        As ``amp_scale``, ``band_lo``, ..., ``out`` of
        :func:`liveai.dsp.beatstate.superflux`.
    """
    _windowed_rfft(history, window, windowed, spec)
    band_flux(spec, amp_scale, prev_log, band_lo, band_hi, odf, windowed)  # free once transformed
    n_frames[0] += 1
    d = min(decay, 1.0 - 1.0 / (n_frames[0] + 15))
    pick_onsets(odf, stats[0], stats[1], stats[2], stats[3], stats[4], d, peak_decay, k_dev,
                floor, min_rel, refractory, onset, strength)
    for c in range(counts.shape[0]):
        counts[c] += onset[c]
    if rhythm_rfft:
        _windowed_rfft(history, rwindow, rwindowed, rspec)
    superflux(rspec, ramp_scale, fb_lo, fb_hi, low_bands, low_weight, fb_prev, fb_cur,
              rhythm_odf, rwindowed)  # rwindowed: free once transformed


def warm_up() -> None:
    """Compile (or load) every kernel here with the argument types the analysers use."""
    spec = np.zeros(9, dtype=np.complex128)
    prev = np.zeros(9)
    lo = np.array([0, 2], dtype=np.int64)
    hi = np.array([4, 9], dtype=np.int64)
    out = np.zeros(2)
    band_flux(spec, 1.0, prev, lo, hi, out, np.zeros(9))
    z = np.zeros(2)
    pick_onsets(out, z.copy(), z.copy(), z.copy(), z.copy(), z.copy(), 0.9, 0.99, 1.0, 0.01,
                0.25, 2.0, np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.float32))
    n = 16
    c = lambda m: np.zeros(m // 2 + 1, dtype=np.complex128)  # noqa: E731
    onset_hop(np.zeros(2 * n), np.ones(n), np.zeros(n), c(n), 1.0, np.zeros(n // 2 + 1), lo, hi,
              out, np.zeros((5, 2)), np.zeros(1, dtype=np.int64), 0.9, 0.99, 1.0, 0.01, 0.25,
              2.0, np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.float32),
              np.zeros(2, dtype=np.int64), True, np.ones(2 * n), np.zeros(2 * n), c(2 * n), 1.0, lo,
              hi, 1, 2.0, np.zeros(2), np.zeros(2), np.zeros(2))
