"""Biquad design (RBJ Audio-EQ-Cookbook) and magnitude responses.

Coefficients are normalised by ``a0`` and stored as ``[b0, b1, b2, a1, a2]`` for the transfer
function ``H(z) = (b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2)``. Design runs in Python
(off the audio thread); the chain kernel in :mod:`liveai.dsp.chain` only reads the numbers.

The stable region of a biquad in ``(a1, a2)`` is a triangle, a convex set: any mix of two stable
filters' coefficients is stable, so the chain may glide from one set to another sample by sample.
"""

from __future__ import annotations

import math

import numpy as np

#: Band types, the integer codes the mixer stores.
PEAKING, LOW_SHELF, HIGH_SHELF, LOW_PASS, HIGH_PASS, OFF = 0, 1, 2, 3, 4, 5
BAND_TYPES = {"peaking": PEAKING, "low_shelf": LOW_SHELF, "high_shelf": HIGH_SHELF,
              "low_pass": LOW_PASS, "high_pass": HIGH_PASS, "off": OFF}
IDENTITY = np.array([1.0, 0.0, 0.0, 0.0, 0.0])


def design(kind: int, freq_hz: float, gain_db: float, q: float,
           sample_rate_hz: float) -> np.ndarray:
    """RBJ cookbook coefficients of one band.

    Parameters
    ----------
    kind : int
        One of :data:`PEAKING`, :data:`LOW_SHELF`, :data:`HIGH_SHELF`, :data:`LOW_PASS`,
        :data:`HIGH_PASS`, :data:`OFF`.
    freq_hz : float
        Centre (peaking), corner (shelves, at half the shelf gain in dB) or cutoff (pass filters).
    gain_db : float
        Peak or shelf gain in dB; ignored by the pass filters.
    q : float
        Quality factor; for the shelves it is the cookbook's Q (1/sqrt(2) = the steepest shelf
        without overshoot).
    sample_rate_hz : float

    Returns
    -------
    np.ndarray, shape (5,), float64
        ``[b0, b1, b2, a1, a2]``.
    """
    if kind == OFF:
        return IDENTITY.copy()
    nyq = 0.5 * sample_rate_hz
    f0 = min(max(float(freq_hz), 1.0), 0.49 * 2.0 * nyq)
    q = max(float(q), 0.05)
    w0 = 2.0 * math.pi * f0 / sample_rate_hz  # [rad/sample]
    cw, sw = math.cos(w0), math.sin(w0)
    alpha = sw / (2.0 * q)
    a = 10.0 ** (gain_db / 40.0)
    if kind == PEAKING:
        b = (1 + alpha * a, -2 * cw, 1 - alpha * a)
        den = (1 + alpha / a, -2 * cw, 1 - alpha / a)
    elif kind in (LOW_SHELF, HIGH_SHELF):
        sq = 2.0 * math.sqrt(a) * alpha
        if kind == LOW_SHELF:
            b = (a * ((a + 1) - (a - 1) * cw + sq), 2 * a * ((a - 1) - (a + 1) * cw),
                 a * ((a + 1) - (a - 1) * cw - sq))
            den = ((a + 1) + (a - 1) * cw + sq, -2 * ((a - 1) + (a + 1) * cw),
                   (a + 1) + (a - 1) * cw - sq)
        else:
            b = (a * ((a + 1) + (a - 1) * cw + sq), -2 * a * ((a - 1) + (a + 1) * cw),
                 a * ((a + 1) + (a - 1) * cw - sq))
            den = ((a + 1) - (a - 1) * cw + sq, 2 * ((a - 1) - (a + 1) * cw),
                   (a + 1) - (a - 1) * cw - sq)
    elif kind == LOW_PASS:
        b = ((1 - cw) / 2, 1 - cw, (1 - cw) / 2)
        den = (1 + alpha, -2 * cw, 1 - alpha)
    elif kind == HIGH_PASS:
        b = ((1 + cw) / 2, -(1 + cw), (1 + cw) / 2)
        den = (1 + alpha, -2 * cw, 1 - alpha)
    else:
        raise ValueError(f"unknown band type {kind}")
    a0 = den[0]
    return np.array([b[0] / a0, b[1] / a0, b[2] / a0, den[1] / a0, den[2] / a0])


def response_db(coefs: np.ndarray, freqs_hz: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """Magnitude of a cascade of biquads at ``freqs_hz``.

    Parameters
    ----------
    coefs : np.ndarray, shape (n_bands, 5) or (5,)
    freqs_hz : np.ndarray, shape (n,)
    sample_rate_hz : float

    Returns
    -------
    np.ndarray, shape (n,), float64, dB
    """
    c = np.atleast_2d(np.asarray(coefs, dtype=np.float64))
    z1 = np.exp(-2j * np.pi * np.asarray(freqs_hz, dtype=np.float64) / sample_rate_hz)  # z^-1
    z2 = z1 * z1
    mag_db = np.zeros(z1.shape)
    for b0, b1, b2, a1, a2 in c:
        h = (b0 + b1 * z1 + b2 * z2) / (1.0 + a1 * z1 + a2 * z2)
        mag_db += 20.0 * np.log10(np.maximum(np.abs(h), 1e-12))
    return mag_db
