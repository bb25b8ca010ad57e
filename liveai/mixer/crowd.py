"""Crowd level at the room mic: what no fixed linear filter of the programme explains.

The room model (an adaptive filter) explains the mic to some 20-25 dB in a reverberant hall;
what it leaves is residual echo plus the crowd, and with a quiet crowd the residual echo wins.
This estimator removes the residual echo by a second, exact regression:

1. a **snapshot** of the room model is frozen; its residual ``e_s = mic - snapshot * ref`` is
   then a time-invariant filter of the reference plus the crowd (the model's own adaptation
   no longer moves the echo around);
2. over frames of ``2**18`` samples (5.5 s at 48 kHz, several times the reverb) with a Hann
   window and 50 % overlap, every fine bin of ``E_s`` is regressed on the reference's spectrum
   ``X`` and on its spectrum under the window's derivative ``X'`` (which takes out the
   first-order leakage of a reverberant tail across the frame edges: ``w (h * x) ≈
   h * (w x) + (m h) * (w' x)``);
3. the crowd is the regression residual of the latest frame, made unbiased by its leverage
   (``E|r|² = σ² (1 - h_nn)``), power-summed per ⅓-octave band;
4. a band where the regression removed more than ``1 - trust`` of the residual is dominated by
   programme echo, and what is left there is leakage, not crowd: such a band takes no more
   than the power density of the nearest band where the crowd dominates (a crowd's spectrum
   does not rise where the strong, bass-heavy programme hides it);
5. two snapshots run staggered, each for ``max_frames`` frames, so one always has enough frames;
   when no band is measurable the estimate holds;
6. a snapshot whose residual carries more than ``mismatch`` of the mic's power explains nothing
   any more (a residual of the crowd alone stays under the mic, whose music the snapshot still
   explains; a room that changed leaves the old model adding its own, uncorrelated output):
   it is dropped, and the estimate holds until snapshots of the re-converged model have frames.

The estimate describes the crowd over the latest frame (centred half a frame back, ``t_est``)
and is renewed every half frame (2.7 s).
"""

from __future__ import annotations

import math

import numpy as np

from liveai.dsp.fdaf import fdaf_filter

_TINY = 1e-30


class _Window:
    """One snapshot of the room model and the regression sums of the frames since."""

    def __init__(self, n_bins_model: tuple[int, int], frame: int, n_bins: int) -> None:
        self.snap = np.zeros(n_bins_model, dtype=np.complex128)
        self.offset = -1
        self.active = False
        self.zero = True
        self.valid = 0  # samples of e_s computed with this snapshot
        self.e_hist = np.zeros(frame)
        self.frames = 0
        self.a = np.zeros(n_bins)  # sum |X|^2
        self.c = np.zeros(n_bins)  # sum |X'|^2
        self.b = np.zeros(n_bins, dtype=np.complex128)  # sum conj(X) X'
        self.u = np.zeros(n_bins, dtype=np.complex128)  # sum conj(X) E
        self.v = np.zeros(n_bins, dtype=np.complex128)  # sum conj(X') E
        self.ee = np.zeros(n_bins)  # sum |E|^2
        self.pow_e = 0.0  # ~1 s averages of the snapshot residual and the mic, mean square
        self.pow_mic = 0.0

    def shift(self, offset: int) -> None:
        """Keep every tap at its absolute lag when the model's bulk delay moves."""
        k = int(offset) - self.offset
        if k > 0:
            self.snap[:-k] = self.snap[k:].copy()
            self.snap[-k:] = 0.0
        elif k < 0:
            self.snap[-k:] = self.snap[:k].copy()
            self.snap[:-k] = 0.0
        self.offset = int(offset)

    def start(self, w: np.ndarray, offset: int) -> None:
        self.snap[:] = w
        self.zero = not np.any(w)
        self.offset = int(offset)
        self.active = True
        self.valid = 0
        self.frames = 0
        self.pow_e = self.pow_mic = 0.0
        for s in (self.a, self.c, self.b, self.u, self.v, self.ee):
            s[:] = 0.0


class CrowdRegression:
    """Streaming crowd estimate per band from the reference, the mic and the room model.

    Parameters
    ----------
    sample_rate_hz : int
    freqs_hz : np.ndarray, shape (n_bands,)
        ⅓-octave centres of the bands reported.
    model_shape : (partitions, bins)
        Shape of the room model's weights (:class:`liveai.dsp.fdaf.PartitionedModel.w`).
    hop : int
        Samples per call of :meth:`push` (the room model's hop).
    max_frames : int
        Frames regressed per snapshot before it is renewed.
    trust : float
        0..1: a band whose regression removed more than this share of its residual is taken
        as echo-dominated (capped by its crowd-dominated neighbours).
    mismatch : float
        A snapshot whose residual power exceeds this share of the mic's no longer fits.
    """

    def __init__(self, sample_rate_hz: int, freqs_hz: np.ndarray, model_shape: tuple[int, int],
                 hop: int, max_frames: int = 6, trust: float = 0.9,
                 mismatch: float = 0.7) -> None:
        sr = self.sample_rate_hz = int(sample_rate_hz)
        self.frame = m = 1 << int(math.ceil(math.log2(5.0 * sr)))  # 2**18 at 48 kHz
        self.hop = int(hop)
        if (m // 2) % self.hop:
            raise ValueError(f"frame {m} / 2 is not a whole number of hops of {hop}")
        self.max_frames = int(max_frames)
        self.trust = float(trust)
        self.mismatch = float(mismatch)
        self._a_pow = 1.0 - math.exp(-hop / sr)  # ~1 s
        self.freqs_hz = np.asarray(freqs_hz, dtype=np.float64)
        n_bins = m // 2 + 1
        self.win = np.hanning(m + 2)[1:-1]
        # the window's derivative, in units of the frame (so both regressors are of one size)
        self.dwin = np.gradient(self.win) * m / (2.0 * math.pi)
        self._scale = 2.0 / (m * float(np.sum(self.win ** 2)))  # |X|^2 -> mean square share
        f = np.fft.rfftfreq(m, 1.0 / sr)
        lo = self.freqs_hz * 2 ** (-1 / 6)
        bucket = np.clip(np.searchsorted(lo, f, side="right") - 1, 0, self.freqs_hz.size - 1)
        self._bucket = bucket
        self._count = np.bincount(bucket, minlength=self.freqs_hz.size).astype(np.float64)
        self._windows = [_Window(model_shape, m, n_bins), _Window(model_shape, m, n_bins)]
        self._ones = np.ones(model_shape[0])
        self._y = np.zeros(model_shape[1], dtype=np.complex128)
        self._norm = np.zeros(model_shape[1])
        self._x_hist = np.zeros(m)
        self._samples = 0
        self.band_power = np.zeros(self.freqs_hz.size)  # crowd mean square per band at the mic
        self.valid = False
        self.trusted = np.zeros(self.freqs_hz.size, dtype=bool)
        self.echo_share = np.zeros(self.freqs_hz.size)
        self.t_est = 0.0  # programme time the estimate describes, s
        self.updates = 0
        self.holds = 0
        self.mismatches = 0

    def push(self, model, ref: np.ndarray, mic: np.ndarray) -> None:
        """One hop: extend the snapshot residuals; every half frame, regress.

        Parameters
        ----------
        model : PartitionedModel
            The room model, just run on this hop (its reference spectra are reused).
        ref, mic : np.ndarray, shape (hop,), float64
        """
        n = self.hop
        at = self._samples % self.frame  # rings of one frame: no shifting every hop
        self._x_hist[at:at + n] = ref
        for w in self._windows:
            if not w.active:
                continue
            if w.offset != model.offset:  # the model moved (a new delay): so does the snapshot
                w.shift(model.offset)
            fdaf_filter(model.fdl, model.head, model.offset, w.snap, self._ones, self._y,
                        self._norm)
            e = mic - np.fft.irfft(self._y, 2 * n)[n:]
            w.e_hist[at:at + n] = e
            w.valid += n
            w.pow_e += self._a_pow * (float(np.mean(e * e)) - w.pow_e)
            w.pow_mic += self._a_pow * (float(np.mean(mic * mic)) - w.pow_mic)
        self._samples += n
        if self._samples % (self.frame // 2) == 0:
            self._frame(model)

    def _frame(self, model) -> None:
        # the rings, oldest sample first (the frame is a whole number of hops, so at a frame
        # boundary the oldest sample sits at the write position)
        at = self._samples % self.frame
        x = np.roll(self._x_hist, -at)
        xw = np.fft.rfft(x * self.win)
        xd = np.fft.rfft(x * self.dwin)
        best = None
        mismatch = False
        for w in self._windows:
            if (w.active and not w.zero and w.valid >= self.sample_rate_hz
                    and w.pow_e > self.mismatch * w.pow_mic):
                # this snapshot no longer explains the mic: the room moved. One window starts
                # again at once from no model at all (the mic itself: time-invariant whatever
                # the model does while it re-learns the room); the other waits its turn
                if mismatch:
                    w.active = False
                else:
                    w.start(np.zeros_like(w.snap), model.offset)
                mismatch = True
                self.mismatches += 1
            if not w.active or w.valid < self.frame:
                continue
            e = np.fft.rfft(np.roll(w.e_hist, -at) * self.win)
            w.a += xw.real ** 2 + xw.imag ** 2
            w.c += xd.real ** 2 + xd.imag ** 2
            w.b += np.conj(xw) * xd
            w.u += np.conj(xw) * e
            w.v += np.conj(xd) * e
            w.ee += e.real ** 2 + e.imag ** 2
            w.frames += 1
            # of two usable windows, the one whose snapshot left the least echo to remove
            if w.frames >= 3 and (best is None or w.pow_e / max(w.pow_mic, _TINY)
                                  < best[0].pow_e / max(best[0].pow_mic, _TINY)):
                best = (w, e)
        if best is not None and not mismatch:
            self._estimate(best[0], xw, xd, best[1])
        else:
            self._hold()
        # renew the snapshots: a window that has done its frames restarts from the model as it
        # is now; an idle one starts once the other has two frames (so one always has enough)
        for w, other in zip(self._windows, self._windows[::-1], strict=True):
            if (w.active and w.frames >= self.max_frames) or (
                    not w.active and (not other.active or other.frames >= 2)):
                w.start(model.w_avg, model.offset)

    def _estimate(self, w: _Window, xw: np.ndarray, xd: np.ndarray, e: np.ndarray) -> None:
        # the reference and its spectrum under the window's derivative (first-order leakage)
        det = np.maximum(w.a * w.c - (w.b.real ** 2 + w.b.imag ** 2), _TINY)
        alpha = (w.c * w.u - w.b * w.v) / det
        beta = (w.a * w.v - np.conj(w.b) * w.u) / det
        lev = (w.c * (xw.real ** 2 + xw.imag ** 2) + w.a * (xd.real ** 2 + xd.imag ** 2)
               - 2.0 * np.real(w.b * np.conj(xw) * xd)) / det
        r = e - alpha * xw - beta * xd
        keep = np.clip(1.0 - lev, 0.0, 1.0)
        nb = self.freqs_hz.size
        r2 = np.bincount(self._bucket, r.real ** 2 + r.imag ** 2, minlength=nb)
        kept = np.bincount(self._bucket, keep, minlength=nb)
        crowd = r2 / np.maximum(kept, 1e-9) * self._count * self._scale
        # share of the residual the regression explained, over the whole window
        rss = w.ee - np.real(np.conj(alpha) * w.u + np.conj(beta) * w.v)
        dof = max(w.frames - 2, 1)
        rss_b = np.bincount(self._bucket, np.maximum(rss, 0.0), minlength=nb) * w.frames / dof
        ee_b = np.bincount(self._bucket, w.ee, minlength=nb)
        share = np.clip(1.0 - rss_b / np.maximum(ee_b, _TINY), 0.0, 1.0)
        self.echo_share = share
        trusted = (share <= self.trust) & (self._count > 0)
        self.trusted = trusted
        if not np.any(trusted):
            self._hold()
            return
        # an echo-dominated band takes no more than the nearest crowd-dominated band's power
        # density (a crowd's spectrum does not rise where the programme hides it)
        idx = np.flatnonzero(trusted)
        for b in np.flatnonzero(~trusted):
            k = idx[np.argmin(np.abs(idx - b))]
            crowd[b] = min(crowd[b], crowd[k] * self._count[b] / self._count[k])
        # the latest frame is centred half a frame back
        self.t_est = (self._samples - self.frame / 2) / self.sample_rate_hz
        self.band_power = crowd
        self.valid = True
        self.updates += 1

    def _hold(self) -> None:
        """Nothing measurable this frame: the last estimate stands."""
        if self.valid:
            self.holds += 1
