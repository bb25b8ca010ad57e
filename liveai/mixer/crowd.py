"""Crowd level at the room mic: what no fixed linear filter of the programme explains.

The room model (an adaptive filter) explains the mic to some 20-25 dB in a reverberant hall;
what it leaves is residual echo plus the crowd, and with a quiet crowd the residual echo wins.
This estimator removes the residual echo by a second, exact regression:

1. a **snapshot** of the room model (its running average, as it is now) is frozen and run
   over the reference and the mic of the last seconds, kept in rings: its residual
   ``e_s = mic - snapshot * ref`` is a time-invariant filter of the reference plus the crowd
   (the model's own adaptation does not move the echo around inside it). Run backwards over
   the history, the snapshot needs no seconds of its own: the latest, best model is used at once,
   over every frame it can describe;
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
5. the frames are those since the programme started or the room last changed, ``min_frames``
   to ``max_frames`` of them (three frames, 11 s, before the first estimate; one more every
   2.7 s); when no band is measurable the estimate holds;
6. the snapshot of the last regression keeps running forward, hop by hop; when its residual
   carries more than ``mismatch`` of the mic's power while it still predicts programme (a
   room that changed leaves the old model adding its own, uncorrelated output; a pause in the
   music does not count), the room has changed: the frames start again from the first hop
   that no longer fitted;
7. until three frames of the new room are in (11 s), a **bridge** measures it: once the new
   room has lasted one and a half samples per tap of the room model (2.3 s for 1.5 s), and
   every ``bridge_every_s`` after, a filter as long as the room model is fitted to the new
   room by exact least squares over the samples since the change (at most the latest 3.9 s;
   :class:`liveai.dsp.firls.FirLeastSquares`, conjugate gradients with FFT products, started
   from the adaptive model, then from the last fit). An exact fit of ``p`` taps over ``N``
   samples leaves ``(N - p) / N`` of the crowd's power and none of the echo such a filter
   explains, so its residual over ``1 - p / N``, exponentially weighted as the estimator's
   other levels are (``average_s``), is the crowd now, with no frames to fill. Before the
   first fit (the 2.3 s after the change) the last estimate holds: fewer samples than taps
   cannot tell a new room from a crowd.

The regression's estimate describes the crowd over the latest frame (centred half a frame
back, ``t_est``) and is renewed every half frame (2.7 s); the bridge's describes the crowd now
(``current``) and is renewed every ``bridge_every_s``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from liveai.dsp.fdaf import fdaf_filter
from liveai.dsp.firls import FirLeastSquares

_TINY = 1e-30


class _Monitor:
    """The last regression's snapshot, run forward hop by hop to see the room change."""

    def __init__(self, n_bins_model: tuple[int, int], history_hops: int, hop_s: float) -> None:
        self.snap = np.zeros(n_bins_model, dtype=np.complex128)
        self.offset = 0
        self.active = False
        self.fitted = False  # its residual was once well under the mic (it fitted the room)
        self.pow_e = self.pow_mic = self.pow_y = 0.0  # ~0.25 s averages, mean square
        self.ratio = np.zeros(history_hops)  # residual / mic power of the last hops
        self.hops = 0
        self._a = 1.0 - math.exp(-hop_s / 0.25)

    def start(self, w: np.ndarray, offset: int) -> None:
        self.snap[:] = w
        self.offset = int(offset)
        self.active = True
        self.fitted = False
        self.pow_e = self.pow_mic = self.pow_y = 0.0
        self.ratio[:] = 0.0
        self.hops = 0

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

    def step(self, e: np.ndarray, mic: np.ndarray, y: np.ndarray) -> None:
        pe, pm, py = float(np.mean(e * e)), float(np.mean(mic * mic)), float(np.mean(y * y))
        a = self._a
        self.pow_e += a * (pe - self.pow_e)
        self.pow_mic += a * (pm - self.pow_mic)
        self.pow_y += a * (py - self.pow_y)
        self.ratio[self.hops % self.ratio.size] = pe / max(pm, _TINY)
        self.hops += 1

    def ratio_back(self, j: int) -> float:
        """Residual / mic power ``j`` hops before the latest (0 = the latest)."""
        return float(self.ratio[(self.hops - 1 - j) % self.ratio.size])


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
    max_lag_samples : int
        Longest lag the room model reaches (its bulk delay at most plus its length), samples:
        the reference history reaches that much further back than the frames.
    min_frames, max_frames : int
        Frames regressed for an estimate: at least (three: one more than the two regressors)
        and at most.
    trust : float
        0..1: a band whose regression removed more than this share of its residual is taken
        as echo-dominated (capped by its crowd-dominated neighbours).
    mismatch : float
        A snapshot whose residual power exceeds this share of the mic's no longer fits.
    average_s : float
        Time constant of the exponential average the bridge's level describes, s (the room
        estimator's ``average_s``, as its other levels).
    bridge_every_s : float
        How often the bridge refits the new room while it stands in, s.
    """

    def __init__(self, sample_rate_hz: int, freqs_hz: np.ndarray, model_shape: tuple[int, int],
                 hop: int, max_lag_samples: int, min_frames: int = 3, max_frames: int = 5,
                 trust: float = 0.9, mismatch: float = 0.7, average_s: float = 2.0,
                 bridge_every_s: float = 0.75) -> None:
        sr = self.sample_rate_hz = int(sample_rate_hz)
        self.frame = m = 1 << int(math.ceil(math.log2(5.0 * sr)))  # 2**18 at 48 kHz
        half = m // 2
        self.hop = int(hop)
        if half % self.hop:
            raise ValueError(f"frame {m} / 2 is not a whole number of hops of {hop}")
        self.min_frames = max(3, int(min_frames))
        self.max_frames = max(self.min_frames, int(max_frames))
        self.trust = float(trust)
        self.mismatch = float(mismatch)
        self.freqs_hz = np.asarray(freqs_hz, dtype=np.float64)
        self.win = np.hanning(m + 2)[1:-1]
        # the window's derivative, in units of the frame (so both regressors are of one size)
        self.dwin = np.gradient(self.win) * m / (2.0 * math.pi)
        self._scale = 2.0 / (m * float(np.sum(self.win ** 2)))  # |X|^2 -> mean square share
        f = np.fft.rfftfreq(m, 1.0 / sr)
        lo = self.freqs_hz * 2 ** (-1 / 6)
        bucket = np.clip(np.searchsorted(lo, f, side="right") - 1, 0, self.freqs_hz.size - 1)
        self._bucket = bucket
        self._count = np.bincount(bucket, minlength=self.freqs_hz.size).astype(np.float64)
        # rings (whole numbers of half frames): the mic over the longest span of frames, the
        # reference that much plus the model's reach
        self._mic_hist = np.zeros((self.max_frames + 1) * half)
        reach = int(math.ceil(max(int(max_lag_samples), 1) / half)) * half
        self._x_hist = np.zeros(self._mic_hist.size + reach)
        self._spectra: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # frame start -> X, X'
        self._monitor = _Monitor(model_shape, max(8, int(math.ceil(2.0 * sr / hop))), hop / sr)
        self._ones = np.ones(model_shape[0])
        self._y = np.zeros(model_shape[1], dtype=np.complex128)
        self._norm = np.zeros(model_shape[1])
        self._samples = 0
        self._from = 0  # frames start here or later (the programme's start, the room's change)
        self._next = m + (self.min_frames - 1) * half  # when the next regression runs
        self.band_power = np.zeros(self.freqs_hz.size)  # crowd mean square per band at the mic
        self.valid = False
        self.trusted = np.zeros(self.freqs_hz.size, dtype=bool)
        self.echo_share = np.zeros(self.freqs_hz.size)
        self.frames_used = 0
        self.t_est = 0.0  # programme time the estimate describes, s
        self.updates = 0
        self.holds = 0
        self.mismatches = 0
        # -- the bridge: an exact fit of the new room while its frames come in ----------------
        self.bridge_taps = taps = model_shape[0] * self.hop  # as long as the room model
        fft = 1 << int(math.ceil(math.log2(3 * taps)))  # windows up to ~2.5 x the taps
        self.bridge_window = min(fft - taps + 1, self._mic_hist.size)
        self._solver = FirLeastSquares(taps, self.bridge_window)
        self.bridge_min = 3 * taps // 2  # one and a half samples per tap before the first fit
        self._bridge_every = max(1, int(round(bridge_every_s * sr / self.hop))) * self.hop
        # exponential weights ending at the latest sample (time constant average_s), square-rooted
        ages = np.arange(self.bridge_window, dtype=np.float64)[::-1]
        self._bridge_sqrt_w = np.exp(-0.5 * ages / (float(average_s) * sr))
        self._bridge_bins = np.fft.rfftfreq(self._solver.fft_size, 1.0 / sr)
        self._bridge_bucket = np.clip(np.searchsorted(lo, self._bridge_bins, side="right") - 1,
                                      0, self.freqs_hz.size - 1)
        self.bridging = False  # the room changed and its frames are not all in yet
        self.current = False  # band_power is the bridge's: it describes the crowd now
        self._bridge_h: np.ndarray | None = None
        self._bridge_lag = -1
        self._bridge_next = 0
        self.bridge_iters = (30, 6)  # CG iterations of the first fit and of each refit
        self.bridge_fits = 0
        self.bridge_iterations = 0

    def push(self, model, ref: np.ndarray, mic: np.ndarray) -> None:
        """One hop: keep the history, watch the room, regress, bridge a room change.

        Every half frame the regression runs; after the room changed, until the regression
        has frames of the new room, the bridge fits it every ``bridge_every_s``.

        Parameters
        ----------
        model : PartitionedModel
            The room model, just run on this hop (its reference spectra are reused).
        ref, mic : np.ndarray, shape (hop,), float64
        """
        n = self.hop
        s = self._samples
        at = s % self._x_hist.size  # rings of whole hops: no shifting every hop
        self._x_hist[at:at + n] = ref
        at = s % self._mic_hist.size
        self._mic_hist[at:at + n] = mic
        mon = self._monitor
        if mon.active:
            if mon.offset != model.offset:  # the model moved (a new delay): so does the snapshot
                mon.shift(model.offset)
            fdaf_filter(model.fdl, model.head, model.offset, mon.snap, self._ones, self._y,
                        self._norm)
            y = np.fft.irfft(self._y, 2 * n)[n:]
            mon.step(mic - y, mic, y)
            self._watch(s)
        self._samples += n
        if self.bridging and self._samples >= self._bridge_next:
            self._bridge_next = self._samples + self._bridge_every
            self._bridge(model)
        if self._samples >= self._next:
            self._next = self._samples + self.frame // 2
            self._regress(model)

    def _watch(self, s: int) -> None:
        """Has the room changed under the monitor's snapshot? ``s``: this hop's first sample."""
        mon = self._monitor
        if mon.hops < 4:
            return
        if mon.pow_e < 0.5 * self.mismatch * mon.pow_mic:
            mon.fitted = True
        # an old model in a new room adds its own output, as strong as the room's, that the mic
        # does not have; in a pause in the music the residual is the crowd, and the snapshot
        # predicts little (its tail), however large a share of the mic the crowd then is
        if not (mon.fitted and mon.pow_e > self.mismatch * mon.pow_mic
                and mon.pow_y > 0.5 * self.mismatch * mon.pow_mic):
            return
        # the change began with the first of the latest hops the snapshot no longer explained
        j = 0
        while j + 1 < min(mon.hops, mon.ratio.size) and mon.ratio_back(j + 1) > self.mismatch / 4:
            j += 1
        change = s - j * self.hop
        self._from = change
        self._next = change + self.frame + (self.min_frames - 1) * (self.frame // 2)
        mon.active = False
        self.mismatches += 1
        # until three frames of the new room are in, an exact fit of it bridges the gap (from
        # two hops after the change: see _bridge)
        self.bridging = True
        self._bridge_h = None
        self._bridge_next = change + 2 * self.hop + self.bridge_min

    @property
    def room_since_s(self) -> float:
        """Programme time from which the frames may be used: the start, or the room's change, s."""
        return self._from / self.sample_rate_hz

    def _read(self, ring: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` (absolute; before the programme: silence) from a ring."""
        size = ring.size
        out = np.zeros(stop - start)
        at = max(start, 0)  # before the programme: silence
        while at < stop:  # in pieces, where the ring wraps
            i = at % size
            k = min(stop - at, size - i)
            out[at - start:at - start + k] = ring[i:i + k]
            at += k
        return out

    def _regress(self, model) -> None:
        m = self.frame
        half = m // 2
        now = self._samples
        k = min(self.max_frames, (now - m - self._from) // half + 1) if now - m >= self._from else 0
        if k < self.min_frames or not np.any(model.w_avg):
            self._hold()
            return
        first = now - m - (k - 1) * half
        # the snapshot, as taps from its bulk delay, run over the whole span of the frames
        n = self.hop
        taps = np.fft.irfft(model.w_avg, 2 * n, axis=1)[:, :n].reshape(-1)
        delay = model.offset * n
        x = self._read(self._x_hist, first - delay - taps.size + 1, now - delay)
        e = self._read(self._mic_hist, first, now) - signal.fftconvolve(x, taps, mode="valid")
        nb = m // 2 + 1
        a = np.zeros(nb)  # sum |X|^2
        c = np.zeros(nb)  # sum |X'|^2
        b = np.zeros(nb, dtype=np.complex128)  # sum conj(X) X'
        u = np.zeros(nb, dtype=np.complex128)  # sum conj(X) E
        v = np.zeros(nb, dtype=np.complex128)  # sum conj(X') E
        ee = np.zeros(nb)  # sum |E|^2
        spectra = {}
        for j in range(k):
            start = first + j * half
            xw, xd = self._spectra.get(start) or self._ref_spectra(start)
            spectra[start] = (xw, xd)
            ew = np.fft.rfft(e[j * half:j * half + m] * self.win)
            a += xw.real ** 2 + xw.imag ** 2
            c += xd.real ** 2 + xd.imag ** 2
            b += np.conj(xw) * xd
            u += np.conj(xw) * ew
            v += np.conj(xd) * ew
            ee += ew.real ** 2 + ew.imag ** 2
        self._spectra = spectra
        self._monitor.start(model.w_avg, model.offset)
        self._estimate(k, (a, c, b, u, v, ee), xw, xd, ew)

    def _ref_spectra(self, start: int) -> tuple[np.ndarray, np.ndarray]:
        x = self._read(self._x_hist, start, start + self.frame)
        return np.fft.rfft(x * self.win), np.fft.rfft(x * self.dwin)

    def _estimate(self, frames: int, sums, xw: np.ndarray, xd: np.ndarray,
                  e: np.ndarray) -> None:
        a, c, b, u, v, ee = sums
        # the reference and its spectrum under the window's derivative (first-order leakage)
        det = np.maximum(a * c - (b.real ** 2 + b.imag ** 2), _TINY)
        alpha = (c * u - b * v) / det
        beta = (a * v - np.conj(b) * u) / det
        lev = (c * (xw.real ** 2 + xw.imag ** 2) + a * (xd.real ** 2 + xd.imag ** 2)
               - 2.0 * np.real(b * np.conj(xw) * xd)) / det
        r = e - alpha * xw - beta * xd
        keep = np.clip(1.0 - lev, 0.0, 1.0)
        nb = self.freqs_hz.size
        r2 = np.bincount(self._bucket, r.real ** 2 + r.imag ** 2, minlength=nb)
        kept = np.bincount(self._bucket, keep, minlength=nb)
        crowd = r2 / np.maximum(kept, 1e-9) * self._count * self._scale
        # share of the residual the regression explained, over the whole span
        rss = ee - np.real(np.conj(alpha) * u + np.conj(beta) * v)
        dof = max(frames - 2, 1)
        rss_b = np.bincount(self._bucket, np.maximum(rss, 0.0), minlength=nb) * frames / dof
        ee_b = np.bincount(self._bucket, ee, minlength=nb)
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
        for k in np.flatnonzero(~trusted):
            near = idx[np.argmin(np.abs(idx - k))]
            crowd[k] = min(crowd[k], crowd[near] * self._count[k] / self._count[near])
        # the latest frame is centred half a frame back
        self.t_est = (self._samples - self.frame / 2) / self.sample_rate_hz
        self.band_power = crowd
        self.frames_used = frames
        self.valid = True
        self.current = False
        self.bridging = False  # the new room's own frames are in: the bridge is done
        self.updates += 1

    def _bridge(self, model) -> None:
        """Fit the room since it changed exactly, and take the crowd from what the fit leaves.

        Over the samples since the change (at most :attr:`bridge_window`, the latest), the
        taps ``h`` of a filter as long as the room model minimise ``|mic - h * ref|²``
        (:class:`liveai.dsp.firls.FirLeastSquares`, started from the last fit, or from the
        adaptive model at the first). The residual of an exact least-squares fit of ``p`` taps
        over ``N`` samples carries ``(N - p) / N`` of the noise's power and none of the echo a
        filter of ``p`` taps explains; so its exponentially weighted power (the time constant
        of the estimator's other levels), per band, over ``1 - p / N`` is the crowd now.
        """
        n = self.hop
        p = self.bridge_taps
        now = self._samples
        # the change is placed at the first hop the old room no longer explained: that hop may
        # still hold some of the old room, so the fit starts two hops later
        start = max(self._from + 2 * n, now - self.bridge_window)
        size = now - start
        lag = model.offset * n
        if self._bridge_h is None or lag != self._bridge_lag:
            # the adaptive model as it is now (not its average: that still remembers the old room)
            h0 = np.fft.irfft(model.w, 2 * n, axis=1)[:, :n].reshape(-1)
            iters = self.bridge_iters[0]
        else:
            h0, iters = self._bridge_h, self.bridge_iters[1]
        x = self._read(self._x_hist, start - lag - p + 1, now - lag)
        d = self._read(self._mic_hist, start, now)
        h, r = self._solver.fit(x, d, h0, iters=iters)
        self._bridge_h, self._bridge_lag = h, lag
        self.bridge_fits += 1
        self.bridge_iterations += self._solver.iterations
        # exponential weights ending now, as the estimator averages its levels
        sqrt_w = self._bridge_sqrt_w[-size:]
        m = self._solver.fft_size
        spec = np.fft.rfft(r * sqrt_w, m)
        power = np.bincount(self._bridge_bucket, spec.real ** 2 + spec.imag ** 2,
                            minlength=self.freqs_hz.size)
        power *= 2.0 / (m * float(np.sum(sqrt_w ** 2)))  # |R|² -> weighted mean square per band
        self.band_power = power / (1.0 - p / size)  # the fit took p of the N degrees of freedom
        self.t_est = now / self.sample_rate_hz
        self.valid = True
        self.current = True
        self.updates += 1
        # the fit, as partitions, watches for the room changing again
        self._monitor.start(np.fft.rfft(h.reshape(-1, n), 2 * n, axis=1), model.offset)

    def _hold(self) -> None:
        """Nothing measurable this frame: the last estimate stands."""
        if self.valid:
            self.holds += 1
