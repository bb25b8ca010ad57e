"""Fractional-octave bands: centres, edges, and power averages of fine spectra onto them."""

from __future__ import annotations

import numpy as np


def band_centers_hz(lo_hz: float, hi_hz: float, fraction: int = 3) -> np.ndarray:
    """Base-2 fractional-octave centres ``1000 * 2 ** (k / fraction)`` within [lo_hz, hi_hz].

    Returns
    -------
    np.ndarray, shape (n_bands,), float64, Hz
    """
    k_lo = int(np.ceil(fraction * np.log2(lo_hz / 1000.0) - 1e-9))
    k_hi = int(np.floor(fraction * np.log2(hi_hz / 1000.0) + 1e-9))
    return 1000.0 * 2.0 ** (np.arange(k_lo, k_hi + 1) / fraction)


def band_matrix(freqs_hz: np.ndarray, centers_hz: np.ndarray, fraction: int = 3) -> np.ndarray:
    """Averaging weights from fine bins to bands: row ``b`` averages the bins inside band ``b``.

    Each band spans ``centre * 2 ** (+-1 / (2 fraction))``. A band narrower than one bin takes the
    nearest bin.

    Returns
    -------
    np.ndarray, shape (n_bands, n_bins), float64; rows sum to 1.
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    m = np.zeros((centers_hz.size, f.size))
    half = 2.0 ** (0.5 / fraction)
    for b, fc in enumerate(centers_hz):
        sel = (f >= fc / half) & (f < fc * half)
        if not np.any(sel):
            sel = np.zeros(f.size, dtype=bool)
            sel[int(np.argmin(np.abs(f - fc)))] = True
        m[b, sel] = 1.0 / np.count_nonzero(sel)
    return m


def band_power_db(freqs_hz: np.ndarray, power: np.ndarray, centers_hz: np.ndarray,
                  fraction: int = 3) -> np.ndarray:
    """Mean power of a fine spectrum in each fractional-octave band, dB (floored at -200 dB).

    Parameters
    ----------
    freqs_hz : np.ndarray, shape (n_bins,)
    power : np.ndarray, shape (n_bins,), linear power (e.g. ``|H|**2``)
    centers_hz : np.ndarray, shape (n_bands,)
    """
    p = band_matrix(freqs_hz, centers_hz, fraction) @ np.asarray(power, dtype=np.float64)
    return 10.0 * np.log10(np.maximum(p, 1e-20))


def smooth_db(freqs_hz: np.ndarray, values_db: np.ndarray, width_octaves: float) -> np.ndarray:
    """Power-average a curve on log-spaced ``freqs_hz`` over ``width_octaves`` (1.0 = a trend).

    Returns
    -------
    np.ndarray, shape (n,), dB
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    p = 10.0 ** (np.asarray(values_db, dtype=np.float64) / 10.0)
    lf = np.log2(f)
    out = np.empty(f.size)
    for i in range(f.size):
        sel = np.abs(lf - lf[i]) <= 0.5 * width_octaves
        out[i] = 10.0 * np.log10(np.mean(p[sel]))
    return out
