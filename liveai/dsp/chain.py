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

Speed: where all 16 bands of a channel pair are settled (the usual case), they run as one
wavefront of 32 lanes that LLVM vectorises (:func:`_bands_lanes`), else two bands at a time
(:func:`_band_quad`); when nothing needs limiting and the limiter's envelope is at rest, the
block takes one gain (:func:`_limit_block`). Every path computes the same numbers, bit for bit.

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
- ``work`` (``LANES_WORK + channels``,): the lanes' coefficients and ring, then the gain the
  limiter's loop applies to each channel (1.0 where the gain loop applied a glide).

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


@njit(cache=True, nogil=True, inline="always")
def _settle(p_coef, s, coef_cur, c, b):  # pragma: no cover - compiled
    """True (and snapped to the target) when band ``b`` of channel ``c`` has finished gliding."""
    d = 0.0
    for k in range(5):
        d = max(d, abs(p_coef[s, c, b, k] - coef_cur[c, b, k]))
    if d < 1e-9:
        for k in range(5):
            coef_cur[c, b, k] = p_coef[s, c, b, k]
        return True
    return False


@njit(cache=True, nogil=True, inline="always")
def _identity(coef_cur, c, b):  # pragma: no cover - compiled
    return (coef_cur[c, b, 0] == 1.0 and coef_cur[c, b, 1] == 0.0 and coef_cur[c, b, 2] == 0.0
            and coef_cur[c, b, 3] == 0.0 and coef_cur[c, b, 4] == 0.0)


@njit(cache=True, nogil=True)
def _pass_identity(scratch, frames, zs, c, b):  # pragma: no cover - compiled
    """An identity band: no math, but its history stays right for a later glide."""
    z = zs[c, b]
    if frames >= 2:
        z[0], z[1] = scratch[frames - 1, c, 0], scratch[frames - 2, c, 0]
    elif frames == 1:
        z[1] = z[0]
        z[0] = scratch[0, c, 0]
    z[2], z[3] = z[0], z[1]


@njit(cache=True, nogil=True, inline="always")
def _df1(b0, b1, b2, a1, a2, v, x1, x2, y1, y2):  # pragma: no cover - compiled
    """One DF-I biquad step on input ``v``: ``(y, x1, x2, y1, y2)`` after it.

    Every band path of the chain runs its samples through this one step (inlined, so the
    interleaved paths keep their recurrences in registers), so they compute the same numbers.
    """
    y = b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
    return y, v, x1, y, y1


@njit(cache=True, nogil=True)
def _band_one(scratch, frames, coef_cur, zs, p_coef, s, c, b, a_s, settled):  # pragma: no cover
    """One band of one channel over the block (DF-I), gliding its coefficients if not settled."""
    cb = coef_cur[c, b]
    z = zs[c, b]
    x1, x2, y1, y2 = z[0], z[1], z[2], z[3]
    b0, b1, b2, a1, a2 = cb[0], cb[1], cb[2], cb[3], cb[4]
    if settled:
        for i in range(frames):
            v = scratch[i, c, 0]
            y, x1, x2, y1, y2 = _df1(b0, b1, b2, a1, a2, v, x1, x2, y1, y2)
            scratch[i, c, 0] = y
    else:
        t0, t1, t2, t3, t4 = (p_coef[s, c, b, 0], p_coef[s, c, b, 1], p_coef[s, c, b, 2],
                              p_coef[s, c, b, 3], p_coef[s, c, b, 4])
        for i in range(frames):
            b0 += a_s * (t0 - b0)
            b1 += a_s * (t1 - b1)
            b2 += a_s * (t2 - b2)
            a1 += a_s * (t3 - a1)
            a2 += a_s * (t4 - a2)
            v = scratch[i, c, 0]
            y, x1, x2, y1, y2 = _df1(b0, b1, b2, a1, a2, v, x1, x2, y1, y2)
            scratch[i, c, 0] = y
        cb[0], cb[1], cb[2], cb[3], cb[4] = b0, b1, b2, a1, a2
    z[0], z[1], z[2], z[3] = x1, x2, y1, y2


@njit(cache=True, nogil=True)
def _band_pair(scratch, frames, coef_cur, zs, c, b):  # pragma: no cover - compiled
    """One settled band of channels ``c`` and ``c + 1`` together.

    Two independent recurrences interleaved, so the CPU overlaps their latencies.
    """
    p, q = coef_cur[c, b], coef_cur[c + 1, b]
    zp, zq = zs[c, b], zs[c + 1, b]
    pb0, pb1, pb2, pa1, pa2 = p[0], p[1], p[2], p[3], p[4]
    qb0, qb1, qb2, qa1, qa2 = q[0], q[1], q[2], q[3], q[4]
    px1, px2, py1, py2 = zp[0], zp[1], zp[2], zp[3]
    qx1, qx2, qy1, qy2 = zq[0], zq[1], zq[2], zq[3]
    for i in range(frames):
        u = scratch[i, c, 0]
        v = scratch[i, c + 1, 0]
        yp, px1, px2, py1, py2 = _df1(pb0, pb1, pb2, pa1, pa2, u, px1, px2, py1, py2)
        yq, qx1, qx2, qy1, qy2 = _df1(qb0, qb1, qb2, qa1, qa2, v, qx1, qx2, qy1, qy2)
        scratch[i, c, 0] = yp
        scratch[i, c + 1, 0] = yq
    zp[0], zp[1], zp[2], zp[3] = px1, px2, py1, py2
    zq[0], zq[1], zq[2], zq[3] = qx1, qx2, qy1, qy2


@njit(cache=True, nogil=True)
def _band_quad(scratch, frames, coef_cur, zs, c, b):  # pragma: no cover - compiled
    """Settled bands ``b`` and ``b + 1`` of channels ``c`` and ``c + 1`` in one pass.

    A wavefront: band ``b + 1`` runs one sample behind band ``b`` and takes its output straight
    from a register, so four independent recurrences overlap (the CPU would otherwise wait on
    each biquad's feedback latency) and the block is read and written once for two bands. Each
    band computes exactly what :func:`_band_pair` computes, sample by sample.
    """
    p, q = coef_cur[c, b], coef_cur[c + 1, b]
    r, s = coef_cur[c, b + 1], coef_cur[c + 1, b + 1]
    zp, zq, zr, zs_ = zs[c, b], zs[c + 1, b], zs[c, b + 1], zs[c + 1, b + 1]
    pb0, pb1, pb2, pa1, pa2 = p[0], p[1], p[2], p[3], p[4]
    qb0, qb1, qb2, qa1, qa2 = q[0], q[1], q[2], q[3], q[4]
    rb0, rb1, rb2, ra1, ra2 = r[0], r[1], r[2], r[3], r[4]
    sb0, sb1, sb2, sa1, sa2 = s[0], s[1], s[2], s[3], s[4]
    px1, px2, py1, py2 = zp[0], zp[1], zp[2], zp[3]
    qx1, qx2, qy1, qy2 = zq[0], zq[1], zq[2], zq[3]
    rx1, rx2, ry1, ry2 = zr[0], zr[1], zr[2], zr[3]
    sx1, sx2, sy1, sy2 = zs_[0], zs_[1], zs_[2], zs_[3]
    if frames > 0:
        u = scratch[0, c, 0]
        v = scratch[0, c + 1, 0]
        _, px1, px2, py1, py2 = _df1(pb0, pb1, pb2, pa1, pa2, u, px1, px2, py1, py2)
        _, qx1, qx2, qy1, qy2 = _df1(qb0, qb1, qb2, qa1, qa2, v, qx1, qx2, qy1, qy2)
    for i in range(1, frames):
        # band b + 1 on band b's output of sample i - 1
        yr, rx1, rx2, ry1, ry2 = _df1(rb0, rb1, rb2, ra1, ra2, py1, rx1, rx2, ry1, ry2)
        ys, sx1, sx2, sy1, sy2 = _df1(sb0, sb1, sb2, sa1, sa2, qy1, sx1, sx2, sy1, sy2)
        scratch[i - 1, c, 0] = yr
        scratch[i - 1, c + 1, 0] = ys
        # band b on sample i
        u = scratch[i, c, 0]
        v = scratch[i, c + 1, 0]
        _, px1, px2, py1, py2 = _df1(pb0, pb1, pb2, pa1, pa2, u, px1, px2, py1, py2)
        _, qx1, qx2, qy1, qy2 = _df1(qb0, qb1, qb2, qa1, qa2, v, qx1, qx2, qy1, qy2)
    if frames > 0:
        yr, rx1, rx2, ry1, ry2 = _df1(rb0, rb1, rb2, ra1, ra2, py1, rx1, rx2, ry1, ry2)
        ys, sx1, sx2, sy1, sy2 = _df1(sb0, sb1, sb2, sa1, sa2, qy1, sx1, sx2, sy1, sy2)
        scratch[frames - 1, c, 0] = yr
        scratch[frames - 1, c + 1, 0] = ys
    zp[0], zp[1], zp[2], zp[3] = px1, px2, py1, py2
    zq[0], zq[1], zq[2], zq[3] = qx1, qx2, qy1, qy2
    zr[0], zr[1], zr[2], zr[3] = rx1, rx2, ry1, ry2
    zs_[0], zs_[1], zs_[2], zs_[3] = sx1, sx2, sy1, sy2


@njit(cache=True, nogil=True)
def _band_channels(scratch, frames, coef_cur, zs, p_coef, s, c0, c1, b, a_s):  # pragma: no cover
    """Band ``b`` of channels ``c0 .. c1 - 1``: identity, settled pairs or gliding one by one."""
    c = c0
    while c < c1:
        settled = _settle(p_coef, s, coef_cur, c, b)
        if settled and _identity(coef_cur, c, b):
            _pass_identity(scratch, frames, zs, c, b)
            c += 1
        elif (settled and c + 1 < c1 and _settle(p_coef, s, coef_cur, c + 1, b)
                and not _identity(coef_cur, c + 1, b)):
            _band_pair(scratch, frames, coef_cur, zs, c, b)
            c += 2
        else:
            _band_one(scratch, frames, coef_cur, zs, p_coef, s, c, b, a_s, settled)
            c += 1


@njit(cache=True, nogil=True, inline="always")
def _busy(p_coef, s, coef_cur, c, b):  # pragma: no cover - compiled
    """Band ``b`` of channel ``c`` is settled and does real filtering."""
    return _settle(p_coef, s, coef_cur, c, b) and not _identity(coef_cur, c, b)


_LANES = 32  # 16 bands x 2 channels, lane = 2 * band + channel
_LW = _LANES + 2  # a slot: the block's input for band 0 [0:2], every lane's output [2:34]
_LR = 6  # slots in the ring (a pair of steps reads back four steps before it)
_LC = 5 * _LANES  # coefficients first: b0, b1, b2, a1, a2, each _LANES wide
_LANES_END = _LC + _LR * _LW
#: Floats of the chain's work array before its per-channel part (the lanes, then the gain
#: the limiter's loop applies to each channel).
LANES_WORK = _LANES_END


@njit(cache=True, nogil=True, inline="always")
def _lanes_pair(w, cur):  # pragma: no cover - compiled
    """Steps ``i`` and ``i + 1`` of all 32 lanes, into slots ``cur`` and ``cur + 1``.

    The slots are constants after inlining, so the loop over the lanes vectorises. Band ``k``
    at step ``i + 1`` reads what band ``k - 1`` put out at step ``i - 1``, never at step ``i``:
    the two steps of a lane need nothing from another lane of this pair, and the second
    reuses the first's coefficients, inputs and outputs from registers.
    """
    ca = _LC + cur * _LW
    cb = ca + _LW
    s1 = _LC + ((cur + _LR - 1) % _LR) * _LW
    s2 = _LC + ((cur + _LR - 2) % _LR) * _LW
    s3 = _LC + ((cur + _LR - 3) % _LR) * _LW
    s4 = _LC + ((cur + _LR - 4) % _LR) * _LW
    for j in range(_LANES):
        b0 = w[j]
        b1 = w[_LANES + j]
        b2 = w[2 * _LANES + j]
        a1 = w[3 * _LANES + j]
        a2 = w[4 * _LANES + j]
        v = w[s2 + j]
        x1 = w[s3 + j]
        y1 = w[s1 + 2 + j]
        ya = b0 * v + b1 * x1 + b2 * w[s4 + j] - a1 * y1 - a2 * w[s2 + 2 + j]
        w[ca + 2 + j] = ya
        w[cb + 2 + j] = b0 * w[s1 + j] + b1 * v + b2 * x1 - a1 * ya - a2 * y1


@njit(cache=True, nogil=True, inline="always")
def _lanes_io(w, scratch, c, i, cur, t):  # pragma: no cover - compiled
    """After step ``i`` (slot ``cur``) amid the block: sample ``i + 2`` in, sample ``t`` out."""
    s = _LC + cur * _LW
    w[s] = scratch[i + 2, c, 0]
    w[s + 1] = scratch[i + 2, c + 1, 0]
    scratch[t, c, 0] = w[s + _LANES]
    scratch[t, c + 1, 0] = w[s + _LANES + 1]


@njit(cache=True, nogil=True, inline="always")
def _lanes_fix(w, scratch, frames, zs, c, i):  # pragma: no cover - compiled
    """After step ``i`` where the wavefront fills or drains: in, out, and the bands' state.

    The next input goes in, the last band's output out, the history of a band about to start
    is put back, the state of a band just finished is taken out. Every step updates all 32
    lanes; a lane whose band has no sample at that step computes a value nobody reads, except
    where it overwrites the history its band, or the next, is about to read: that is put back.
    """
    nb = _LANES // 2
    s = _LC + (i % _LR) * _LW
    if i + 2 < frames:  # step i puts in sample i + 2 (band 0 reads it at step i + 2)
        w[s] = scratch[i + 2, c, 0]
        w[s + 1] = scratch[i + 2, c + 1, 0]
    t = i - 2 * (nb - 1)
    if 0 <= t < frames:  # the last band put out sample t
        scratch[t, c, 0] = w[s + _LANES]
        scratch[t, c + 1, 0] = w[s + _LANES + 1]
    k = (i + 2) // 2  # band k starts at step 2 k: steps 2 k - 2 and 2 k - 1 hold its history
    if k < nb:
        j = 3 if i == 2 * k - 2 else 2  # y2, or y1
        w[s + 2 + 2 * k] = zs[c, k, j]
        w[s + 3 + 2 * k] = zs[c + 1, k, j]
    d = i - frames + 1  # band k's last step is 2 k + frames - 1
    if d >= 0 and d % 2 == 0 and d // 2 < nb:
        k = d // 2
        for ch in range(2):
            lane = 2 * k + ch
            z = zs[c + ch, k]
            z[0] = w[_LC + ((i - 2) % _LR) * _LW + lane]
            z[1] = w[_LC + ((i - 3) % _LR) * _LW + lane]
            z[2] = w[s + 2 + lane]
            z[3] = w[_LC + ((i - 1) % _LR) * _LW + 2 + lane]


@njit(cache=True, nogil=True)
def _bands_lanes(scratch, frames, coef_cur, zs, c, w):  # pragma: no cover - compiled
    """Bands 0-15 of channels ``c`` and ``c + 1`` (all settled), as 32 lanes of one wavefront.

    Lane ``2 k + ch`` is band ``k`` of channel ``c + ch``. Band ``k`` runs two samples behind
    band ``k - 1`` and reads its output from a ring of the last six steps (``w``, laid out as
    the ``_L*`` constants say), so every step updates all 32 lanes with the same arithmetic,
    which LLVM vectorises (the scalar cascade is bound by its five multiplications per
    band-sample). Steps where the wavefront fills or drains update all lanes too, and
    :func:`_lanes_fix` keeps what the lanes without a sample must not change. Each band
    computes exactly what :func:`_band_pair` computes, sample by sample (the same operations
    in the same order). Needs band ``k + 1``'s input history to be band ``k``'s output
    history, as the cascade leaves it (:func:`_lanes_ready` checks).
    """
    nb = _LANES // 2
    for k in range(nb):
        for ch in range(2):
            lane = 2 * k + ch
            for j in range(5):
                w[j * _LANES + lane] = coef_cur[c + ch, k, j]
            z = zs[c + ch, k]
            # band k's history, where its first step (2 k) reads it
            w[_LC + ((2 * k + 2 * _LR - 1) % _LR) * _LW + 2 + lane] = z[2]  # y1
            w[_LC + ((2 * k + 2 * _LR - 2) % _LR) * _LW + 2 + lane] = z[3]  # y2
            # its input history: the output history of band k - 1 (or the block's last inputs)
            w[_LC + ((2 * k + 2 * _LR - 3) % _LR) * _LW + lane] = z[0]  # x1
            w[_LC + ((2 * k + 2 * _LR - 4) % _LR) * _LW + lane] = z[1]  # x2
    # the first two inputs, where steps 0 and 1 read them (step i puts in sample i + 2)
    for t in range(min(2, frames)):
        s = _LC + ((t - 2 + _LR) % _LR) * _LW
        w[s] = scratch[t, c, 0]
        w[s + 1] = scratch[t, c + 1, 0]
    steps = frames + 2 * (nb - 1)
    for i in range(0, steps, _LR):  # three pairs of steps at a time: the slots are constants
        if 2 * nb <= i and i + _LR + 2 <= frames:  # every band has a sample: only in and out
            last = i - 2 * (nb - 1)
            for p in range(0, _LR, 2):
                _lanes_pair(w, p)
                _lanes_io(w, scratch, c, i + p, p, last + p)
                _lanes_io(w, scratch, c, i + p + 1, p + 1, last + p + 1)
            continue
        for p in range(0, _LR, 2):
            _lanes_pair(w, p)
            _lanes_fix(w, scratch, frames, zs, c, i + p)
            _lanes_fix(w, scratch, frames, zs, c, i + p + 1)


@njit(cache=True, nogil=True)
def _lanes_ready(p_coef, s, coef_cur, zs, c):  # pragma: no cover - compiled
    """True when bands 0-15 of channels ``c``, ``c + 1`` can run as :func:`_bands_lanes`.

    All settled and filtering, and each band's input history its predecessor's output history
    (as the cascade leaves it).
    """
    nb = _LANES // 2
    ok = True
    for ch in range(2):
        for k in range(nb):
            if not _busy(p_coef, s, coef_cur, c + ch, k):
                ok = False
    if not ok:
        return False
    for ch in range(2):
        for k in range(nb - 1):
            if (zs[c + ch, k + 1, 0] != zs[c + ch, k, 2]
                    or zs[c + ch, k + 1, 1] != zs[c + ch, k, 3]):
                return False
    return True


@njit(cache=True, nogil=True)
def _bands_some(scratch, frames, coef_cur, zs, p_coef, s, c0, c1, b0, a_s):  # pragma: no cover
    """Bands ``b0 ..`` of channels ``c0 .. c1 - 1``, two at a time (see :func:`chain_block`)."""
    n_bands = coef_cur.shape[1]
    b = b0
    while b < n_bands:
        if b + 1 == n_bands:
            _band_channels(scratch, frames, coef_cur, zs, p_coef, s, c0, c1, b, a_s)
            b += 1
            continue
        c = c0
        while c < c1:
            if (c + 1 < c1 and _busy(p_coef, s, coef_cur, c, b)
                    and _busy(p_coef, s, coef_cur, c + 1, b)
                    and _busy(p_coef, s, coef_cur, c, b + 1)
                    and _busy(p_coef, s, coef_cur, c + 1, b + 1)):
                _band_quad(scratch, frames, coef_cur, zs, c, b)
                c += 2
            else:
                cn = min(c + 2, c1)
                _band_channels(scratch, frames, coef_cur, zs, p_coef, s, c, cn, b, a_s)
                _band_channels(scratch, frames, coef_cur, zs, p_coef, s, c, cn, b + 1, a_s)
                c = cn
        b += 2


@njit(cache=True, nogil=True)
def _limit_block(scratch, frames, channels, work, ring, lim, look, t, ceiling, env, box_sum,
                 out, counts):  # pragma: no cover - compiled
    """The limiter over a block that needs no limiting, the envelope at rest.

    False (nothing output) when some sample needs limiting or the boxcar holds another gain
    than ``env``. Else it computes what the per-sample loop of :func:`chain_block` computes
    when no sample's peak is over the ceiling, the queue holds 1.0, the envelope does not move
    and the whole boxcar holds it: the same gain for every sample, and the look-ahead delay
    read from the block itself (and from the ring for its first samples). The wet samples are
    left multiplied by their channel's gain (and that gain set to 1.0) either way.
    """
    for k in range(look):
        if lim[look + k] != env:
            return False
    peak = 0.0
    for i in range(frames):
        for c in range(channels):
            v = scratch[i, c, 0] * work[_LANES_END + c]
            scratch[i, c, 0] = v
            a = abs(v)
            if a > peak:
                peak = a
    for c in range(channels):
        work[_LANES_END + c] = 1.0  # applied (times 1.0 from here: the same number)
    if peak > ceiling:
        return False
    g = box_sum * (1.0 / look)
    pos = t % look
    for i in range(frames):
        j = i - look + 1  # the sample leaving the delay line (before the block: in the ring)
        rpos = 0
        if j < 0:
            rpos = pos + i + 1
            if rpos >= look:
                rpos -= look
        for c in range(channels):
            y = scratch[j, c, 0] * g if j >= 0 else ring[rpos, c, 0] * g
            if not abs(y) <= ceiling:  # (as in chain_block)
                if y > ceiling:
                    y = ceiling
                    counts[1] += 1
                elif y < -ceiling:
                    y = -ceiling
                    counts[1] += 1
                else:
                    y = 0.0
            out[i, c] = y
    # the ring keeps the block's last look-ahead of wet and dry samples, each at its time
    for i in range(max(0, frames - look), frames):
        p = (t + i) % look
        for c in range(channels):
            ring[p, c, 0] = scratch[i, c, 0]
            ring[p, c, 1] = scratch[i, c, 1]
    return True


@njit(cache=True, nogil=True)
def chain_block(x, out, p_coef, p_gain, p_misc, active, coef_cur, zs, gain_cur, ring, lim, ilim,
                misc, counts, scratch, work):  # pragma: no cover - compiled
    """Process one block ``x`` (frames, channels) float32 into ``out`` (same shape) float32.

    ``scratch`` (>= frames, channels, 2) float64 holds the wet and dry block between stages.
    The EQ runs over the whole block: all 16 bands of a channel pair at once as a vectorised
    wavefront (:func:`_bands_lanes`) where they are all settled; else two bands at a time
    (coefficients and state in registers): where both bands of a channel pair are settled, as
    one wavefront of four recurrences (:func:`_band_quad`); a band still gliding to new
    coefficients takes the per-sample glide path, an identity band only keeps its history.
    A settled gain is applied in the limiter's loop. Every path computes the same numbers.
    """
    frames, channels = x.shape
    n_bands = coef_cur.shape[1]
    look = ring.shape[0]
    s = active[0]
    bypass_t = p_misc[s, 0]
    ceiling = p_misc[s, 1]
    a_s = p_misc[s, 2]
    rel = p_misc[s, 3]
    for c in range(channels):
        for i in range(frames):
            v = np.float64(x[i, c])
            if not abs(v) <= 1e4:  # one test for the rare cases (NaN fails every comparison)
                if not np.isfinite(v):
                    v = 0.0
                    counts[0] += 1
                elif v > 1e4:  # 80 dB over full scale: nothing real; keeps every stage finite
                    v = 1e4
                else:
                    v = -1e4
            scratch[i, c, 0] = v
            scratch[i, c, 1] = v
    # per channel pair: all 16 bands settled and filtering as one vectorised wavefront of 32
    # lanes; else (and bands past 16) two bands at a time, as a wavefront of four recurrences
    # where both bands of both channels are settled (the same arithmetic on every path)
    c = 0
    while c < channels:
        if c + 1 < channels and n_bands >= _LANES // 2 and _lanes_ready(p_coef, s, coef_cur,
                                                                         zs, c):
            _bands_lanes(scratch, frames, coef_cur, zs, c, work)
            _bands_some(scratch, frames, coef_cur, zs, p_coef, s, c, c + 2, _LANES // 2, a_s)
            c += 2
        else:
            c1 = min(c + 2, channels)
            _bands_some(scratch, frames, coef_cur, zs, p_coef, s, c, c1, 0, a_s)
            c = c1
    for c in range(channels):
        # a filter state gone non-finite (cannot happen with clamped input; kept as a guard)
        bad = False
        for b in range(n_bands):
            for k in range(4):
                if not np.isfinite(zs[c, b, k]):
                    bad = True
        if bad:
            for b in range(n_bands):
                for k in range(4):
                    zs[c, b, k] = 0.0
            for i in range(frames):
                scratch[i, c, 0] = 0.0
        g = gain_cur[c]
        gt = p_gain[s, c]
        if g == gt:  # settled: each step would add a_s * 0; the limiter's loop applies it
            work[_LANES_END + c] = g
        else:
            for i in range(frames):
                g += a_s * (gt - g)
                scratch[i, c, 0] *= g
            work[_LANES_END + c] = 1.0  # (times 1.0: the same number)
        gain_cur[c] = g
    # queue and ring positions wrap by comparison (an integer division per access cost more
    # than the rest of the limiter); head/tail are kept as counters only between blocks
    t = ilim[look + 2]
    hi = ilim[look] % look  # position of the queue's oldest entry
    count = ilim[look + 1] - ilim[look]  # entries in the queue
    ti = hi + count  # position after its newest
    if ti >= look:
        ti -= look
    env = lim[2 * look]
    box_sum = lim[2 * look + 1]
    inv_look = 1.0 / look
    min_gain = misc[1]
    bmix = misc[0]
    pos = t % look
    # the envelope at rest: back at 1.0, or as close to it as the release's step still moves
    # it (it stops some 2e-13 under 1.0 after a gain reduction, and never moves again)
    if (frames > 0 and bmix == 0.0 and bypass_t == 0.0 and count == 1 and lim[hi] == 1.0
            and env + rel * (1.0 - env) == env
            and _limit_block(scratch, frames, channels, work, ring, lim, look, t, ceiling, env,
                             box_sum, out, counts)):
        # nothing to limit in the block, the envelope at rest and the whole boxcar holding it:
        # the gain is the boxcar's, the same for every sample, and the queue's one entry of 1.0
        # is renewed
        g = box_sum * inv_look
        if g < min_gain:
            min_gain = g
        ilim[hi] = t + frames - 1
        t += frames
    else:
        for i in range(frames):
            peak = 0.0
            for c in range(channels):
                v = scratch[i, c, 0] * work[_LANES_END + c]
                ring[pos, c, 0] = v
                ring[pos, c, 1] = scratch[i, c, 1]
                a = abs(v)
                if a > peak:
                    peak = a
            # gain this sample needs, then the sliding minimum over the look-ahead window
            r = 1.0
            if peak > ceiling:
                r = ceiling / peak
            if count > 0 and ilim[hi] <= t - look:
                hi += 1  # the oldest left the window
                if hi == look:
                    hi = 0
                count -= 1
            while count > 0:
                back = ti - 1 if ti > 0 else look - 1
                if lim[back] < r:
                    break
                ti = back
                count -= 1
            lim[ti] = r
            ilim[ti] = t
            ti += 1
            if ti == look:
                ti = 0
            count += 1
            m = lim[hi]
            if m < env:
                env = m
            elif m != env:  # (m == env: the release would add rel * 0)
                env += rel * (m - env)
            bpos = look + pos
            box_sum += env - lim[bpos]
            lim[bpos] = env
            g = box_sum * inv_look
            if g < min_gain:
                min_gain = g
            rpos = pos + 1
            if rpos == look:
                rpos = 0
            if bmix != bypass_t:
                bmix += a_s * (bypass_t - bmix)
            for c in range(channels):
                if bmix == 0.0:  # not bypassed, nothing of the dry signal (bit for bit the same)
                    y = ring[rpos, c, 0] * g
                else:
                    y = (1.0 - bmix) * ring[rpos, c, 0] * g + bmix * ring[rpos, c, 1]
                if not abs(y) <= ceiling:  # one test for the rare cases (NaN fails it too)
                    if y > ceiling:
                        y = ceiling
                        counts[1] += 1
                    elif y < -ceiling:
                        y = -ceiling
                        counts[1] += 1
                    else:
                        y = 0.0
                out[i, c] = y
            t += 1
            pos = rpos
    # flush denormals from the filter state (long silences)
    for c in range(channels):
        for b in range(n_bands):
            for k in range(4):
                if abs(zs[c, b, k]) < 1e-25:
                    zs[c, b, k] = 0.0
    # keep head/tail small and the boxcar sum exact (no drift over hours)
    head = hi
    tail = hi + count
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


@njit(cache=True)
def chain_block_held(x, out, p_coef, p_gain, p_misc, active, coef_cur, zs, gain_cur, ring, lim,
                     ilim, misc, counts, scratch, work):  # pragma: no cover - compiled
    """:func:`chain_block` with the GIL held throughout, for the audio callback.

    A ``nogil`` kernel hands the GIL away on entry and must win it back on exit; with a busy
    Python thread beside it (the room estimator) that wait is up to a switch interval per call,
    longer than the kernel itself. The callback already holds the GIL: it keeps it for these
    few microseconds instead.
    """
    chain_block(x, out, p_coef, p_gain, p_misc, active, coef_cur, zs, gain_cur, ring, lim, ilim,
                misc, counts, scratch, work)


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
        self.scratch = np.zeros((1024, channels, 2))
        self.work = np.zeros(LANES_WORK + channels)
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
        if block.shape[0] > self.scratch.shape[0]:  # once, for a longer block than ever before
            self.scratch = np.zeros((block.shape[0], self.channels, 2))
        chain_block_held(block, out, self.p_coef, self.p_gain, self.p_misc, self.active,
                         self.coef_cur, self.zs, self.gain_cur, self.ring, self.lim, self.ilim,
                         self.misc, self.counts, self.scratch, self.work)
        return out
