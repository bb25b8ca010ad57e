"""Channel routing for the output path: copy, sanitise, clip.

Whatever reaches the PA must be finite and inside full scale: a NaN turned into an integer by
the driver is a full-scale click.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def route_sanitized(indata, channel_index, outdata, ceiling):  # pragma: no cover - compiled
    """Copy input columns to output columns, replacing NaN/Inf by 0 and clipping to ±ceiling.

    Parameters
    ----------
    indata : float32 (frames, in_channels)
    channel_index : intp (k,)
        ``outdata[:, j]`` receives ``indata[:, channel_index[j]]``; outputs past ``k``, and
        those whose index is negative, get 0.
    outdata : float32 (frames, out_channels)
    ceiling : float
        Largest absolute output value (1.0 = full scale).

    Returns
    -------
    int
        Non-finite input samples replaced.
    """
    frames, n_out = outdata.shape
    bad = 0
    for j in range(n_out):
        if j < channel_index.shape[0] and channel_index[j] >= 0:
            ch = channel_index[j]
            for i in range(frames):
                v = indata[i, ch]
                if not np.isfinite(v):
                    v = 0.0
                    bad += 1
                elif v > ceiling:
                    v = ceiling
                elif v < -ceiling:
                    v = -ceiling
                outdata[i, j] = v
        else:
            for i in range(frames):
                outdata[i, j] = 0.0
    return bad


@njit(cache=True)
def route_sanitized_held(indata, channel_index, outdata, ceiling):  # pragma: no cover - compiled
    """:func:`route_sanitized` keeping the GIL (see :func:`liveai.dsp.chain.chain_block_held`)."""
    return route_sanitized(indata, channel_index, outdata, ceiling)


def warm_up() -> None:
    """Compile (or load) the kernel with the callback's exact argument types."""
    x = np.zeros((4, 2), dtype=np.float32)
    route_sanitized(x, np.zeros(2, dtype=np.intp), np.zeros((4, 2), dtype=np.float32), 1.0)
