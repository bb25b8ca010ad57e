"""ITU-R BS.1770 loudness: K-weighting filters and the mean-square kernel.

The filter design follows BS.1770-4 (the shelf and high-pass that make up K-weighting), in the
rate-independent form libebur128 and pyloudnorm use, so any sample rate gets the same curve.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: BS.1770's offset: a 1 kHz sine reads its own level in LUFS after K-weighting.
LUFS_OFFSET_DB = -0.691


def k_weighting(sample_rate_hz: float) -> np.ndarray:
    """Biquad coefficients of the K-weighting chain.

    Returns
    -------
    np.ndarray, shape (2, 5), float64
        ``[b0, b1, b2, a1, a2]`` (a0 = 1) of the high shelf, then of the high-pass.
    """
    fs = float(sample_rate_hz)
    # Stage 1: high shelf, about +4 dB above 1.5 kHz (the head's acoustic effect).
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / fs)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0,
             (vh - vb * k / q + k * k) / a0, 2.0 * (k * k - 1.0) / a0,
             (1.0 - k / q + k * k) / a0]
    # Stage 2: the RLB high-pass around 38 Hz.
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / fs)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass], dtype=np.float64)


@njit(cache=True, nogil=True)
def k_weighted_energy(block, coeffs, state, out):  # pragma: no cover - compiled
    """K-weight each channel of ``block`` and sum its squares.

    Parameters
    ----------
    block : float32 (frames, channels)
    coeffs : float64 (2, 5)
        From :func:`k_weighting`.
    state : float64 (channels, 2, 2)
        Transposed direct form II state of both biquads per channel; updated in place.
    out : float64 (channels,)
        Sum of the squared K-weighted samples of this block, per channel.
    """
    frames, channels = block.shape
    for c in range(channels):
        acc = 0.0
        for i in range(frames):
            x = block[i, c]
            if not np.isfinite(x):
                x = 0.0
            for s in range(2):
                b0, b1, b2, a1, a2 = (coeffs[s, 0], coeffs[s, 1], coeffs[s, 2], coeffs[s, 3],
                                      coeffs[s, 4])
                y = b0 * x + state[c, s, 0]
                state[c, s, 0] = b1 * x - a1 * y + state[c, s, 1]
                state[c, s, 1] = b2 * x - a2 * y
                x = y
            acc += x * x
        out[c] = acc


def warm_up() -> None:
    """Compile (or load) the kernel with the analyser's argument types."""
    k_weighted_energy(np.zeros((4, 2), dtype=np.float32), k_weighting(48000),
                      np.zeros((2, 2, 2)), np.zeros(2))
