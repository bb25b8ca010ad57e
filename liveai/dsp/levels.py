"""Kernels for levels and band energies, and their whole-signal reference.

Kernels follow one contract: ``@njit(cache=True, nogil=True)``, inputs and preallocated outputs
as arguments, nothing allocated, no globals. The public wrappers validate and allocate.

Level conventions: ``rms_db = 20 log10(rms)`` of the mean of the channels, so a full-scale sine
on every channel reads -3.01 dBFS (on one of two channels, -9.03 dBFS) and full-scale DC or a square
wave 0 dBFS; silence is floored at :data:`FLOOR_DB`.
"""

from __future__ import annotations

import time

import numpy as np
import rocket_fft  # noqa: F401  # np.fft inside numba kernels (pocketfft, as numpy's own)
from numba import njit

from liveai.dsp import fastlog
from liveai.dsp.loudness import LUFS_OFFSET_DB, k_weighted_energy
from liveai.dsp.windows import onset_window

FLOOR_DB = -120.0
_TINY = 1e-12  # 10 log10(1e-12) = -120 dB


@njit(cache=True, nogil=True)
def mix_to_mono(block, out):  # pragma: no cover - compiled
    """Average the channels of ``block`` (frames, channels) into ``out`` (frames,).

    Non-finite samples count as 0. Returns the number of non-finite samples replaced.
    """
    frames, channels = block.shape
    bad = 0
    # One and two channels (nearly every input) get loops with a fixed channel count and no
    # branch: a non-finite sample is selected away and counted, so the loops vectorise (a
    # branch per sample kept them scalar, 15x slower for one channel, 5x for two). The sums
    # are those of the general loop below, in its order, so every channel count rounds alike.
    if channels == 1:
        for i in range(frames):
            v = block[i, 0]
            ok = np.isfinite(v)
            out[i] = 0.0 + (v if ok else 0.0)  # 0.0 + : -0.0 becomes 0.0, as in the sum below
            bad += 0 if ok else 1
        return bad
    if channels == 2:
        for i in range(frames):
            a = block[i, 0]
            b = block[i, 1]
            ok_a = np.isfinite(a)
            ok_b = np.isfinite(b)
            acc = 0.0 + (a if ok_a else 0.0)
            acc += b if ok_b else 0.0
            out[i] = acc * 0.5
            bad += (0 if ok_a else 1) + (0 if ok_b else 1)
        return bad
    scale = 1.0 / channels
    for i in range(frames):
        acc = 0.0
        for c in range(channels):
            v = block[i, c]
            if np.isfinite(v):
                acc += v
            else:
                bad += 1
        out[i] = acc * scale
    return bad


@njit(cache=True, nogil=True)
def rms_peak_db(x):  # pragma: no cover - compiled
    """Return (rms_db, peak_db) of ``x`` (n,), floored at FLOOR_DB."""
    acc = 0.0
    peak = 0.0
    for v in x:
        acc += v * v
        a = abs(v)
        if a > peak:
            peak = a
    ms = acc / max(x.shape[0], 1)
    rms_db = 10.0 * np.log10(ms) if ms > _TINY else FLOOR_DB
    peak_db = 20.0 * np.log10(peak) if peak > 1e-6 else FLOOR_DB
    return rms_db, peak_db


@njit(cache=True, nogil=True)
def shift_append(buf, hop):  # pragma: no cover - compiled
    """Shift ``buf`` (n,) left by ``len(hop)`` and write ``hop`` at its end, in place."""
    n = buf.shape[0]
    h = hop.shape[0]
    # Slices, so that every index starts at 0 (numba then drops its negative-index checks).
    older = buf[h:]
    for i in range(n - h):
        buf[i] = older[i]
    newest = buf[n - h :]
    for i in range(h):
        newest[i] = hop[i]


@njit(cache=True, nogil=True)
def apply_window(x, window, out):  # pragma: no cover - compiled
    """``out[i] = x[i] * window[i]``."""
    for i in range(x.shape[0]):
        out[i] = x[i] * window[i]


@njit(cache=True, nogil=True)
def band_powers_db(spec, band_lo, band_hi, norm, out_db):  # pragma: no cover - compiled
    """Mean-square power per band from an rfft, in dB.

    Parameters
    ----------
    spec : complex128 (n_bins,)
        ``rfft`` of a windowed frame.
    band_lo, band_hi : int64 (n_bands,)
        First and one-past-last bin of each band.
    norm : float
        ``2 / (n_fft * sum(window**2))``: turns summed |X|² into the signal's mean square
        (Parseval), so a sine of amplitude A in a band reads ``20 log10(A/√2)``.
    out_db : float32 (n_bands,)
    """
    for b in range(band_lo.shape[0]):
        acc = 0.0
        for k in range(band_lo[b], band_hi[b]):
            acc += spec[k].real * spec[k].real + spec[k].imag * spec[k].imag
        p = acc * norm
        out_db[b] = 10.0 * np.log10(p) if p > _TINY else FLOOR_DB


@njit(cache=True, nogil=True, error_model="numpy")
def spectrum_row(mag, mag_ref, smoothing, state, db_min, db_max, out):  # pragma: no cover
    """WebAudio-style analyser row: smoothed |X|/N in dB mapped from db_min..db_max to 0..1.

    ``mag`` holds |X| of at least ``len(out)`` bins (see :func:`magnitudes`); ``state``
    (len(out),) holds the smoothed magnitudes between calls. ``mag_ref`` is the N of |X|/N:
    ``2 * sum(window)``, which is ``n_fft`` for a Hann window (WebAudio's |X|/N) and keeps a
    sine of amplitude A at A/4 in its peak bin (-12 dB below A) whatever the window.
    """
    span = db_max - db_min
    # A multiply per bin, not a division (an eighth of the row's time): exact, as the
    # analysers' windows make mag_ref a power of two (2 sum(w) = n_fft).
    inv_ref = 1.0 / mag_ref
    # Branch-free, so the loop vectorises: every bin's logarithm costs less than a branch.
    # Silence (and anything below db_min) maps to 0 through the clip.
    for k in range(out.shape[0]):
        s = smoothing * state[k] + (1.0 - smoothing) * (mag[k] * inv_ref)
        state[k] = s
        db = 20.0 * fastlog.log10(max(s, fastlog.TINY))
        v = (db - db_min) / span
        out[k] = min(max(v, 0.0), 1.0)


@njit(cache=True, nogil=True)
def adaptive_unit(values_db, ceil_db, fall_db, range_db, min_ceil_db,
                  out):  # pragma: no cover - compiled
    """Map dB values to 0..1 against a decaying peak, so quiet and loud rooms both span 0..1.

    ``ceil_db`` (same shape) jumps up to any louder value and falls by ``fall_db`` per call,
    never below ``min_ceil_db`` (so hiss in an empty room stays near 0);
    ``out = (value - (ceil - range_db)) / range_db`` clipped to 0..1. Updated in place.
    """
    for i in range(values_db.shape[0]):
        v = values_db[i]
        c = ceil_db[i] - fall_db
        if v > c:
            c = v
        if c < min_ceil_db:
            c = min_ceil_db
        ceil_db[i] = c
        u = (v - (c - range_db)) / range_db
        out[i] = 0.0 if u < 0.0 else (1.0 if u > 1.0 else u)


@njit(cache=True, nogil=True, error_model="numpy")
def chroma(mag, bin_hz, lo, hi, smoothing, state, out, scratch):  # pragma: no cover - compiled
    """12 pitch-class energies from the spectral peaks of an rfft, smoothed, max 1.

    Each local maximum of the magnitude between bins ``lo`` and ``hi`` has its frequency refined
    by parabolic interpolation of the log magnitude (so a coarse FFT still tells neighbouring
    semitones apart) and adds its energy to its pitch class.

    Parameters
    ----------
    mag : float64 (>= hi + 1,)
        |X| of the rfft bins (see :func:`magnitudes`).
    bin_hz : float
        Hz per bin.
    lo, hi : int
        Bin range searched (1 <= lo, hi <= n_bins - 1).
    smoothing : float
        Per-call memory of ``state``.
    state : float64 (12,)
        Smoothed energies (0 = C .. 11 = B); updated in place.
    out : float32 (12,)
    scratch : float64 (3, >= hi - lo + 2)
        Scratch: log magnitudes, pitches and energies per bin.
    """
    for c in range(12):
        state[c] *= smoothing
    # Every bin gets the same branch-free arithmetic (a bin that is no peak gets energy 0), so
    # the loops vectorise with fastlog's logarithms: half the time of one libm call per
    # logarithm behind a branch per bin (the peaks come in no pattern a predictor learns).
    # (Slices, so that the loop indices start at 0: numba then drops its negative-index checks.)
    m = mag[lo - 1 : hi + 1]
    n = m.shape[0]
    log_mag = scratch[0, :n]
    for i in range(n):
        log_mag[i] = fastlog.log(m[i] + 1e-12)
    pitch = scratch[1, : n - 2]
    energy = scratch[2, : n - 2]
    semis_per_ln = 12.0 / np.log(2.0)
    ln_a4_bins = np.log(440.0 / bin_hz)  # A4 in bins: pitch 0 there, in semitones
    gain = 1.0 - smoothing
    for i in range(n - 2):  # bin k = lo + i, its neighbours at i and i + 2
        prev, cur, nxt = m[i], m[i + 1], m[i + 2]
        a, b, c = log_mag[i], log_mag[i + 1], log_mag[i + 2]
        den = a - 2.0 * b + c
        is_peak = (cur > prev) & (cur >= nxt) & (cur > 1e-9)
        delta = 0.5 * (a - c) / den  # only kept where a peak bends down: |delta| <= 1/2
        delta = delta if is_peak & (den < 0.0) else 0.0
        # floor(semitones from A4 + 1/2) + 9 is the pitch class (0 = C); + 120 more keeps the
        # value positive down to 0.4 Hz, so int() (a truncation) floors it.
        pitch[i] = semis_per_ln * (fastlog.log((lo + i) + delta) - ln_a4_bins) + 129.5
        energy[i] = gain * cur * cur if is_peak else 0.0
    for i in range(n - 2):  # adding an exact 0 leaves a class as it was
        state[int(pitch[i]) % 12] += energy[i]
    peak = 0.0
    for c in range(12):
        if state[c] > peak:
            peak = state[c]
    for c in range(12):
        out[c] = state[c] / peak if peak > 1e-20 else 0.0


@njit(cache=True, nogil=True)
def magnitudes(spec, out):  # pragma: no cover - compiled
    """``out[k] = |spec[k]|`` for ``k < len(out)``: computed once, read by several kernels."""
    for k in range(out.shape[0]):
        out[k] = np.sqrt(spec[k].real * spec[k].real + spec[k].imag * spec[k].imag)


@njit(cache=True, nogil=True)
def push(buf, value):  # pragma: no cover - compiled
    """Shift ``buf`` (n,) left by one and put ``value`` last, in place."""
    n = buf.shape[0]
    for i in range(n - 1):
        buf[i] = buf[i + 1]
    buf[n - 1] = value


@njit(cache=True, nogil=True)
def loudness_lufs(energy_hist, n_hops, hop_length):  # pragma: no cover - compiled
    """BS.1770 loudness of the last ``n_hops`` of ``energy_hist``, LUFS, floored at FLOOR_DB.

    ``energy_hist`` (n,) holds channel-summed K-weighted energy per hop, newest last.
    """
    acc = 0.0
    n = energy_hist.shape[0]
    for i in range(n - n_hops, n):
        acc += energy_hist[i]
    mean_square = acc / (hop_length * n_hops)  # [energy/hop] / [samples/hop]
    if mean_square <= 1e-12:
        return FLOOR_DB
    return LUFS_OFFSET_DB + 10.0 * np.log10(mean_square)


@njit(cache=True, nogil=True)
def level_hop(hop, mono, k_coeffs, k_state, k_energy, energy_hist, buf, window, windowed, spec,
              mag, band_lo, band_hi, band_norm, mag_ref, spec_smoothing, spec_state, spec_db_min,
              spec_db_max, bin_hz, chroma_lo, chroma_hi, chroma_smoothing, chroma_state,
              chroma_scratch, adapt, level_ceil_db, band_ceil_db, m_hops, rms_db, lufs, level,
              band_db, band_level, spec_row, chroma_out):  # pragma: no cover - compiled
    """One hop of the whole level analysis in one call: the streaming core of LevelAnalyzer.

    Runs the kernels above in order, each exactly as it runs alone. One dispatch from Python
    instead of a dozen numba and numpy calls is the point: each call costs microseconds of
    interpreter time, about what the numerics of a whole hop cost.

    Parameters
    ----------
    hop : float32 (hop_length, channels)
        The new samples; non-finite samples count as silence.
    mono : float32 (hop_length,)
        Out: the channel mean of ``hop``.
    k_coeffs, k_state, k_energy
        As :func:`liveai.dsp.loudness.k_weighted_energy` (``k_state`` updated in place).
    energy_hist : float64 (st_hops,)
        K-weighted energy per hop (channels summed), newest last, over 3 s; shifted in place.
    buf : float64 (n_fft,)
        The last ``n_fft`` mono samples, newest last; shifted in place.
    window : float64 (n_fft,)
        :func:`liveai.dsp.windows.onset_window` in the analysers (the onset detector's rhythm
        frame is this very spectrum).
    windowed : float64 (n_fft,)
        Scratch: ``buf * window``.
    spec : complex128 (n_fft // 2 + 1,)
        Out: the rfft of ``windowed`` (pocketfft, through rocket-fft).
    mag : float64 (n_mag,)
        Out: ``|spec|`` of the first ``n_mag >= max(len(spec_row), chroma_hi + 1)`` bins.
    band_lo, band_hi, band_norm
        As :func:`band_powers_db`.
    mag_ref, spec_smoothing, spec_state, spec_db_min, spec_db_max
        As :func:`spectrum_row` (``spec_state`` updated in place).
    bin_hz, chroma_lo, chroma_hi, chroma_smoothing, chroma_state, chroma_scratch
        As :func:`chroma` (``chroma_state`` updated in place).
    adapt : float64 (5,)
        :func:`adaptive_unit` settings: fall per hop (dB), level range and floor of its peak
        (dB, dBFS), band range and floor (dB, dBFS).
    level_ceil_db : float64 (1,), band_ceil_db : float64 (n_bands,)
        The falling peaks of :func:`adaptive_unit`, updated in place.
    m_hops : int
        Hops in BS.1770's momentary window (400 ms).
    rms_db : float32 (2,)
        Out: RMS and sample peak of the hop's channel mean, dBFS.
    lufs : float32 (2,)
        Out: short-term (3 s) and momentary (400 ms) loudness, LUFS.
    level : float32 (1,)
        Out: 0..1 display level of the RMS.
    band_db, band_level : float32 (n_bands,)
        Out: band powers (dBFS) and their 0..1 display levels.
    spec_row : float32 (n_row,)
        Out: the smoothed 0..1 spectrum row.
    chroma_out : float32 (12,)
        Out: pitch-class energies, the strongest 1.

    Returns
    -------
    int
        Non-finite input samples (replaced by 0).
    """
    nonfinite = mix_to_mono(hop, mono)
    k_weighted_energy(hop, k_coeffs, k_state, k_energy, nonfinite == 0)  # counted just now
    push(energy_hist, np.sum(k_energy))
    st_hops = energy_hist.shape[0]
    h = mono.shape[0]
    lufs[0] = loudness_lufs(energy_hist, st_hops, h)
    lufs[1] = loudness_lufs(energy_hist, m_hops, h)
    rms, peak = rms_peak_db(mono)
    rms_db[0] = rms
    rms_db[1] = peak
    shift_append(buf, mono)
    apply_window(buf, window, windowed)
    # pocketfft (through rocket-fft) takes its scratch from the heap on each call, as numpy's
    # rfft did from Python: small, fixed-size, and the one allocation of the hop.
    np.fft.rfft(windowed, out=spec)
    band_powers_db(spec, band_lo, band_hi, band_norm, band_db)
    magnitudes(spec, mag)
    spectrum_row(mag, mag_ref, spec_smoothing, spec_state, spec_db_min, spec_db_max, spec_row)
    chroma(mag, bin_hz, chroma_lo, chroma_hi, chroma_smoothing, chroma_state, chroma_out,
           chroma_scratch)
    # rms_db[:1] is float32, as the level's input always was: same rounding, same output.
    adaptive_unit(rms_db[:1], level_ceil_db, adapt[0], adapt[1], adapt[2], level)
    adaptive_unit(band_db, band_ceil_db, adapt[0], adapt[3], adapt[4], band_level)
    return nonfinite


def log_band_edges(sample_rate_hz: float, n_fft: int, n_bands: int = 8,
                   fmin_hz: float = 30.0, fmax_hz: float = 16000.0) -> tuple[np.ndarray, np.ndarray,
                                                                              np.ndarray]:
    """Log-spaced bands as rfft bin ranges.

    Returns
    -------
    lo, hi : np.ndarray, shape (n_bands,), int64
        First and one-past-last bin of each band; every band has at least one bin.
    edges_hz : np.ndarray, shape (n_bands + 1,), float64
        Nominal band edges.
    """
    fmax_hz = min(fmax_hz, 0.95 * sample_rate_hz / 2)
    edges_hz = np.geomspace(fmin_hz, fmax_hz, n_bands + 1)
    bins = np.round(edges_hz * n_fft / sample_rate_hz).astype(np.int64)  # [Hz] * [bins/Hz]
    lo = bins[:-1].copy()
    hi = np.maximum(bins[1:], lo + 1)
    for b in range(1, n_bands):  # keep bands contiguous after the one-bin minimum
        lo[b] = max(lo[b], hi[b - 1])
        hi[b] = max(hi[b], lo[b] + 1)
    return lo, hi, edges_hz


def levels_offline(x: np.ndarray, sample_rate_hz: float, hop_length: int = 512,
                   n_fft: int = 2048, n_bands: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Whole-signal reference for the streaming level analysis (plain numpy, no kernels).

    Frame ``i`` covers the ``n_fft`` samples ending at sample ``(i + 1) * hop_length``, with
    zeros before the start, under :func:`liveai.dsp.windows.onset_window`, exactly as the
    streaming analyser sees it.

    Parameters
    ----------
    x : np.ndarray, shape (n,), float
        Mono signal.

    Returns
    -------
    rms_db : np.ndarray, shape (n // hop_length,)
        RMS of each hop, dBFS.
    band_db : np.ndarray, shape (n // hop_length, n_bands)
    """
    n_frames = x.shape[0] // hop_length
    padded = np.concatenate([np.zeros(n_fft - hop_length), x[: n_frames * hop_length]])
    hops = x[: n_frames * hop_length].reshape(n_frames, hop_length).astype(np.float64)
    ms = np.mean(hops**2, axis=1)
    rms_db = np.where(ms > _TINY, 10 * np.log10(np.maximum(ms, _TINY)), FLOOR_DB)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length][:n_frames]
    window = onset_window(n_fft)
    spec = np.fft.rfft(frames * window, axis=1)
    power = np.abs(spec) ** 2
    lo, hi, _ = log_band_edges(sample_rate_hz, n_fft, n_bands)
    norm = 2.0 / (n_fft * np.sum(window**2))
    band = np.stack([power[:, a:b].sum(axis=1) for a, b in zip(lo, hi, strict=True)], axis=1)
    band_p = band * norm
    band_db = np.where(band_p > _TINY, 10 * np.log10(np.maximum(band_p, _TINY)), FLOOR_DB)
    return rms_db, band_db


def warm_up() -> float:
    """Compile (or load from cache) every kernel here; return the seconds it took."""
    t0 = time.perf_counter()
    hop = np.zeros((64, 2), dtype=np.float32)
    mono = np.zeros(64, dtype=np.float32)
    n_fft = 128
    spec = np.zeros(n_fft // 2 + 1, dtype=np.complex128)
    f32 = lambda n: np.zeros(n, dtype=np.float32)  # noqa: E731
    level_hop(hop, mono, np.zeros((2, 5)), np.zeros((2, 2, 2)), np.zeros(2), np.zeros(4),
              np.zeros(n_fft), np.ones(n_fft), np.zeros(n_fft), spec, np.zeros(spec.size),
              np.array([0], dtype=np.int64), np.array([2], dtype=np.int64), 1.0, float(n_fft),
              0.8, np.zeros(16), -100.0, -30.0, 100.0, 1, 4, 0.8, np.zeros(12), np.zeros((3, 5)),
              np.array([0.01, 30.0, -45.0, 40.0, -50.0]), np.zeros(1), np.zeros(1), 2, f32(2),
              f32(2), f32(1), f32(1), f32(1), f32(16), f32(12))
    rms_peak_db(mono)  # liveai.audio.check calls it alone
    return time.perf_counter() - t0
