"""The mixer chain in one kernel: parametric EQ → gain → look-ahead limiter → hard ceiling.

One call of :func:`chain_block` processes one block of every channel. Parameters reach it through
double-buffered arrays: the writer fills set ``1 - active[0]`` and then flips ``active[0]``; the
kernel reads only set ``active[0]`` at the start of each block. Every parameter glides to its new
value sample by sample (one-pole smoothing of the biquad coefficients, the gain and the bypass mix),
so no change clicks. A convex mix of two stable biquads is stable (see :mod:`liveai.dsp.biquad`).

Limiter (stereo-linked, look-ahead ``L`` samples, latency ``L - 1``): the gain each sample needs,
``r = min(1, ceiling / peak)``, passes a sliding minimum over ``L`` samples (a monotonic queue),
an instant-attack / one-pole-release envelope and a moving average over ``L`` samples. The average
of ``L`` values that are all ``<= r[k]`` is ``<= r[k]``, so the gain applied to sample ``k``
(when it leaves the delay line ``L - 1`` samples later) already holds it under the ceiling,
with a smooth
ramp. A final clip to the ceiling guarantees it against rounding; it is never bypassed.

Bad input: non-finite samples become 0 and are counted; a filter whose state goes non-finite is
reset. Nothing here allocates.

State layout (float64 unless said):

- ``coef_cur`` (channels, n_bands, 5): the coefficients in use, gliding to the target set.
- ``zs`` (channels, n_bands, 4): DF-I state x1, x2, y1, y2 of each band.
- ``gain_cur`` (channels,): linear gain in use.
- ``ring`` (L, channels, 2): delay line of the wet (EQ + gain) and dry input samples.
- ``lim`` (2 * L + 2,): sliding-min queue values [0:L], boxcar ring [L:2L], envelope [2L],
  boxcar sum [2L + 1].
- ``ilim`` int64 (L + 3,): queue positions [0:L], queue head [L], queue tail [L+1], time [L+2].
- ``misc`` (2,): bypass mix in use [0], lowest limiter gain since the last read [1].
- ``counts`` int64 (2,): non-finite inputs replaced [0], samples clipped by the final stage [1].

Parameter sets (index 0 or 1 by ``active[0]``):

- ``p_coef`` (2, channels, n_bands, 5): target coefficients.
- ``p_gain`` (2, channels): target linear gain.
- ``p_misc`` (2, 4): bypass target 0/1 [0], ceiling, linear [1], smoothing coefficient per sample
  for coefficients/gain/bypass [2], limiter release coefficient per sample [3].
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def chain_block(x, out, p_coef, p_gain, p_misc, active, coef_cur, zs, gain_cur, ring, lim, ilim,
                misc, counts):  # pragma: no cover - compiled
    """Process one block ``x`` (frames, channels) float32 into ``out`` (same shape) float32."""
    frames, channels = x.shape
    n_bands = coef_cur.shape[1]
    look = ring.shape[0]
    s = active[0]
    bypass_t = p_misc[s, 0]
    ceiling = p_misc[s, 1]
    a_s = p_misc[s, 2]
    rel = p_misc[s, 3]
    # bands that still glide; the rest snap to their target once (exact, block-size free)
    for c in range(channels):
        for b in range(n_bands):
            d = 0.0
            for k in range(5):
                d = max(d, abs(p_coef[s, c, b, k] - coef_cur[c, b, k]))
            if d < 1e-9:
                for k in range(5):
                    coef_cur[c, b, k] = p_coef[s, c, b, k]
    head = ilim[look]
    tail = ilim[look + 1]
    t = ilim[look + 2]
    env = lim[2 * look]
    box_sum = lim[2 * look + 1]
    inv_look = 1.0 / look
    min_gain = misc[1]
    bmix = misc[0]
    for i in range(frames):
        pos = t % look
        peak = 0.0
        for c in range(channels):
            v = np.float64(x[i, c])
            if not np.isfinite(v):
                v = 0.0
                counts[0] += 1
            dry = v
            for b in range(n_bands):
                cb = coef_cur[c, b]
                if cb[0] != p_coef[s, c, b, 0] or cb[1] != p_coef[s, c, b, 1] or \
                        cb[2] != p_coef[s, c, b, 2] or cb[3] != p_coef[s, c, b, 3] or \
                        cb[4] != p_coef[s, c, b, 4]:
                    for k in range(5):
                        cb[k] += a_s * (p_coef[s, c, b, k] - cb[k])
                z = zs[c, b]
                y = cb[0] * v + cb[1] * z[0] + cb[2] * z[1] - cb[3] * z[2] - cb[4] * z[3]
                z[1] = z[0]
                z[0] = v
                z[3] = z[2]
                z[2] = y
                v = y
            if not np.isfinite(v):
                for b in range(n_bands):
                    for k in range(4):
                        zs[c, b, k] = 0.0
                v = 0.0
            gain_cur[c] += a_s * (p_gain[s, c] - gain_cur[c])
            v *= gain_cur[c]
            ring[pos, c, 0] = v
            ring[pos, c, 1] = dry
            a = abs(v)
            if a > peak:
                peak = a
        # gain this sample needs, then the sliding minimum over the look-ahead window
        r = 1.0
        if peak > ceiling:
            r = ceiling / peak
        if tail > head and ilim[head % look] <= t - look:
            head += 1  # the oldest left the window
        while tail > head and lim[(tail - 1) % look] >= r:
            tail -= 1
        lim[tail % look] = r
        ilim[tail % look] = t
        tail += 1
        m = lim[head % look]
        if m < env:
            env = m
        else:
            env += rel * (m - env)
        bpos = look + pos
        box_sum += env - lim[bpos]
        lim[bpos] = env
        g = box_sum * inv_look
        if g < min_gain:
            min_gain = g
        bmix += a_s * (bypass_t - bmix)
        rpos = (t + 1) % look
        for c in range(channels):
            y = (1.0 - bmix) * ring[rpos, c, 0] * g + bmix * ring[rpos, c, 1]
            if y > ceiling:
                y = ceiling
                counts[1] += 1
            elif y < -ceiling:
                y = -ceiling
                counts[1] += 1
            elif not np.isfinite(y):
                y = 0.0
            out[i, c] = y
        t += 1
    # flush denormals from the filter state (long silences)
    for c in range(channels):
        for b in range(n_bands):
            for k in range(4):
                if abs(zs[c, b, k]) < 1e-25:
                    zs[c, b, k] = 0.0
    # keep head/tail small and the boxcar sum exact (no drift over hours)
    shift = (head // look) * look
    head -= shift
    tail -= shift
    acc = 0.0
    for k in range(look):
        acc += lim[look + k]
    box_sum = acc
    ilim[look] = head
    ilim[look + 1] = tail
    ilim[look + 2] = t
    lim[2 * look] = env
    lim[2 * look + 1] = box_sum
    misc[0] = bmix
    misc[1] = min_gain


def smoothing_coef(time_constant_s: float, sample_rate_hz: float) -> float:
    """One-pole coefficient per sample: 63 % of a step in ``time_constant_s``."""
    return 1.0 - math.exp(-1.0 / max(time_constant_s * sample_rate_hz, 1e-9))


class Chain:
    """Streaming EQ → gain → limiter → ceiling for ``channels`` channels.

    Parameters
    ----------
    sample_rate_hz : float
    channels : int
    n_bands : int
        Biquads per channel.
    ceiling_db : float
        Hard output ceiling, dBFS; no output sample exceeds ``10 ** (ceiling_db / 20)``.
    lookahead_ms : float
        Limiter look-ahead; the chain's latency is ``latency_samples`` = look-ahead - 1.
    release_ms : float
        Limiter release time constant.
    smoothing_ms : float
        Time constant of the glide of coefficients, gain and bypass.
    """

    def __init__(self, sample_rate_hz: float, channels: int, n_bands: int = 16,
                 ceiling_db: float = -1.0, lookahead_ms: float = 1.5, release_ms: float = 80.0,
                 smoothing_ms: float = 20.0) -> None:
        self.sample_rate_hz = float(sample_rate_hz)
        self.channels = int(channels)
        self.n_bands = int(n_bands)
        look = max(1, int(round(lookahead_ms * 1e-3 * sample_rate_hz)))
        self.look = look
        self.p_coef = np.zeros((2, channels, n_bands, 5))
        self.p_coef[:, :, :, 0] = 1.0
        self.p_gain = np.ones((2, channels))
        self.p_misc = np.zeros((2, 4))
        self.p_misc[:, 1] = 10.0 ** (ceiling_db / 20.0)
        self.p_misc[:, 2] = smoothing_coef(smoothing_ms * 1e-3, sample_rate_hz)
        self.p_misc[:, 3] = smoothing_coef(release_ms * 1e-3, sample_rate_hz)
        self.active = np.zeros(1, dtype=np.int64)
        self.coef_cur = self.p_coef[0].copy()
        self.zs = np.zeros((channels, n_bands, 4))
        self.gain_cur = np.ones(channels)
        self.ring = np.zeros((look, channels, 2))
        self.lim = np.zeros(2 * look + 2)
        self.ilim = np.zeros(look + 3, dtype=np.int64)
        self.misc = np.zeros(2)
        self.counts = np.zeros(2, dtype=np.int64)
        self.reset()

    @property
    def latency_samples(self) -> int:
        """Delay of the chain (the limiter's look-ahead minus one)."""
        return self.look - 1

    @property
    def ceiling(self) -> float:
        """Linear output ceiling in use."""
        return float(self.p_misc[self.active[0], 1])

    def reset(self) -> None:
        """Clear the audio state; parameters stay and apply at once (no glide)."""
        s = self.active[0]
        self.coef_cur[:] = self.p_coef[s]
        self.gain_cur[:] = self.p_gain[s]
        self.zs[:] = 0.0
        self.ring[:] = 0.0
        look = self.look
        self.lim[:] = 0.0
        self.lim[look:2 * look] = 1.0
        self.lim[2 * look] = 1.0
        self.lim[2 * look + 1] = float(look)
        self.ilim[:] = 0
        self.misc[0] = self.p_misc[s, 0]
        self.misc[1] = 1.0
        self.counts[:] = 0

    def set_params(self, coefs: np.ndarray | None = None, gains: np.ndarray | None = None,
                   bypass: bool | None = None, ceiling_db: float | None = None) -> None:
        """Write a new parameter set into the idle buffer and flip (unchanged ones are copied).

        Parameters
        ----------
        coefs : np.ndarray, shape (channels, n_bands, 5) or (n_bands, 5), optional
        gains : np.ndarray, shape (channels,) or scalar, linear, optional
        bypass : bool, optional
        ceiling_db : float, optional
        """
        s = int(self.active[0])
        w = 1 - s
        self.p_coef[w] = self.p_coef[s] if coefs is None else np.broadcast_to(
            coefs, self.p_coef[w].shape)
        self.p_gain[w] = self.p_gain[s] if gains is None else np.broadcast_to(
            gains, self.p_gain[w].shape)
        self.p_misc[w] = self.p_misc[s]
        if bypass is not None:
            self.p_misc[w, 0] = 1.0 if bypass else 0.0
        if ceiling_db is not None:
            self.p_misc[w, 1] = 10.0 ** (ceiling_db / 20.0)
        self.active[0] = w  # the one flip the kernel sees

    def read_min_gain(self) -> float:
        """Lowest limiter gain (linear) since the last call; resets the tracker."""
        g = float(self.misc[1])
        self.misc[1] = 1.0
        return g

    def process(self, block: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Process ``block`` (frames, channels) float32; returns ``out``, same shape, float32."""
        if out is None:
            out = np.empty(block.shape, dtype=np.float32)
        chain_block(block, out, self.p_coef, self.p_gain, self.p_misc, self.active, self.coef_cur,
                    self.zs, self.gain_cur, self.ring, self.lim, self.ilim, self.misc, self.counts)
        return out
