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
def k_weighted_energy(block, coeffs, state, out, finite=False):  # pragma: no cover - compiled
    """K-weight each channel of ``block`` and sum its squares.

    Parameters
    ----------
    block : float32 (frames, channels)
        Non-finite samples count as 0.
    coeffs : float64 (2, 5)
        From :func:`k_weighting`.
    state : float64 (channels, 2, 2)
        Transposed direct form II state of both biquads per channel; updated in place.
    out : float64 (channels,)
        Sum of the squared K-weighted samples of this block, per channel.
    finite : bool
        The caller knows every sample of ``block`` is finite (it has counted them): the
        per-sample test is skipped, a third of the filter's time.
    """
    channels = block.shape[1]
    c = 0
    # Channels go two at a time: each filter is a chain of dependent multiply-adds, and two
    # independent chains in one loop keep the CPU busy while each waits for its last result.
    while c + 1 < channels:
        out[c], out[c + 1] = _k_weight_pair(block, c, coeffs, state, finite)
        c += 2
    if c < channels:  # one left (mono): alone, it takes 70 % of a pair's time, not all of it
        out[c] = _k_weight_one(block, c, coeffs, state, finite)


@njit(cache=True, nogil=True, inline="always")
def _tdf2(b0, b1, b2, a1, a2, x, s0, s1):  # pragma: no cover - compiled
    """One transposed direct-form II biquad step on input ``x``: ``(y, s0, s1)`` after it.

    Both loops below run every stage of every channel through this step (inlined, so the
    interleaved pair keeps its recurrences in registers). Its first state is
    s0 = (b1 x + s1) - a1 y: from one output to the next the recursion then waits on a
    multiply, a subtraction and the next output's add (three operations, not four as in
    (b1 x - a1 y) + s1), a fifth faster for two channels, a quarter for one. The two orders
    differ by float64 rounding only.
    """
    y = b0 * x + s0
    return y, (b1 * x + s1) - a1 * y, b2 * x - a2 * y


@njit(cache=True, nogil=True)
def _k_weight_pair(block, c, coeffs, state, finite):  # pragma: no cover - compiled
    """K-weight channels ``c`` and ``c + 1``; their sums of squares.

    The filter state lives in locals for the block (the arrays are read and written once), and
    each channel sees exactly the operations, in the order, of :func:`_k_weight_one`.
    """
    s_b0, s_b1, s_b2, s_a1, s_a2 = coeffs[0, 0], coeffs[0, 1], coeffs[0, 2], coeffs[0, 3], \
        coeffs[0, 4]
    h_b0, h_b1, h_b2, h_a1, h_a2 = coeffs[1, 0], coeffs[1, 1], coeffs[1, 2], coeffs[1, 3], \
        coeffs[1, 4]
    d = c + 1
    s0c, s1c, h0c, h1c = state[c, 0, 0], state[c, 0, 1], state[c, 1, 0], state[c, 1, 1]
    s0d, s1d, h0d, h1d = state[d, 0, 0], state[d, 0, 1], state[d, 1, 0], state[d, 1, 1]
    acc_c = 0.0
    acc_d = 0.0
    for i in range(block.shape[0]):
        xc = block[i, c]
        xd = block[i, d]
        if not finite:  # loop-invariant: LLVM compiles one loop with the tests, one without
            if not np.isfinite(xc):
                xc = 0.0
            if not np.isfinite(xd):
                xd = 0.0
        # Stage 1, the high shelf; stage 2, the high-pass.
        yc, s0c, s1c = _tdf2(s_b0, s_b1, s_b2, s_a1, s_a2, xc, s0c, s1c)
        yd, s0d, s1d = _tdf2(s_b0, s_b1, s_b2, s_a1, s_a2, xd, s0d, s1d)
        zc, h0c, h1c = _tdf2(h_b0, h_b1, h_b2, h_a1, h_a2, yc, h0c, h1c)
        zd, h0d, h1d = _tdf2(h_b0, h_b1, h_b2, h_a1, h_a2, yd, h0d, h1d)
        acc_c += zc * zc
        acc_d += zd * zd
    state[c, 0, 0], state[c, 0, 1], state[c, 1, 0], state[c, 1, 1] = s0c, s1c, h0c, h1c
    state[d, 0, 0], state[d, 0, 1], state[d, 1, 0], state[d, 1, 1] = s0d, s1d, h0d, h1d
    return acc_c, acc_d


@njit(cache=True, nogil=True)
def _k_weight_one(block, c, coeffs, state, finite):  # pragma: no cover - compiled
    """K-weight channel ``c``; its sum of squares (the arithmetic of :func:`_k_weight_pair`)."""
    s_b0, s_b1, s_b2, s_a1, s_a2 = coeffs[0, 0], coeffs[0, 1], coeffs[0, 2], coeffs[0, 3], \
        coeffs[0, 4]
    h_b0, h_b1, h_b2, h_a1, h_a2 = coeffs[1, 0], coeffs[1, 1], coeffs[1, 2], coeffs[1, 3], \
        coeffs[1, 4]
    s0, s1, h0, h1 = state[c, 0, 0], state[c, 0, 1], state[c, 1, 0], state[c, 1, 1]
    acc = 0.0
    for i in range(block.shape[0]):
        x = block[i, c]
        if not finite and not np.isfinite(x):
            x = 0.0
        y, s0, s1 = _tdf2(s_b0, s_b1, s_b2, s_a1, s_a2, x, s0, s1)
        z, h0, h1 = _tdf2(h_b0, h_b1, h_b2, h_a1, h_a2, y, h0, h1)
        acc += z * z
    state[c, 0, 0], state[c, 0, 1], state[c, 1, 0], state[c, 1, 1] = s0, s1, h0, h1
    return acc


def warm_up() -> None:
    """Compile (or load) the kernel with the analyser's argument types."""
    k_weighted_energy(np.zeros((4, 2), dtype=np.float32), k_weighting(48000),
                      np.zeros((2, 2, 2)), np.zeros(2), False)
