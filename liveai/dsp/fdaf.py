"""Partitioned-block frequency-domain adaptive filter (PBFDAF / MDF, echo-canceller style).

The filter models the path reference → microphone (PA, room, mic) as ``K`` partitions of ``N``
taps each, after a bulk delay of ``offset`` whole partitions, so a model of ``K * N`` taps can
cover a reverberant tail of 1-2 s at a modest cost. Overlap-save with FFTs of ``2 N``; the NLMS
step of every bin is normalised by the reference power in that bin summed over the partitions
(the tap-input norm of that bin), which decorrelates coloured programme material across bins; the
gradient is constrained to ``N`` taps per partition (no circular wrap).

The multiply-accumulate loops are numba kernels; the FFTs are numpy's (pocketfft), batched over
the partitions. None of this runs in the audio callback: the mixer feeds it frame by frame.

:func:`gcc_phat` finds the bulk delay (the direct sound) by phase-transform cross-correlation.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def fdaf_filter(fdl, head, offset, w, gains, y_spec, norm):  # pragma: no cover - compiled
    """``y_spec = sum_k w[k] * X[head - offset - k]`` and ``norm = sum_k gains[k] |X[...]|**2``.

    ``fdl`` (L, n_bins) complex128 is a ring of reference spectra, newest at ``head``.
    """
    n_part, n_bins = w.shape
    depth = fdl.shape[0]
    for b in range(n_bins):
        y_spec[b] = 0.0
        norm[b] = 0.0
    for k in range(n_part):
        row = (head - offset - k) % depth
        g = gains[k]
        for b in range(n_bins):
            xv = fdl[row, b]
            y_spec[b] += w[k, b] * xv
            norm[b] += g * (xv.real * xv.real + xv.imag * xv.imag)


@njit(cache=True, nogil=True)
def fdaf_gradient(fdl, head, offset, gains, e_spec, norm, step, reg, grad):  # pragma: no cover
    """``grad[k] = step * gains[k] * conj(X[k]) * E / (norm + reg)`` for every partition."""
    n_part, n_bins = grad.shape
    depth = fdl.shape[0]
    for k in range(n_part):
        row = (head - offset - k) % depth
        g = gains[k]
        for b in range(n_bins):
            grad[k, b] = g * step[b] * np.conj(fdl[row, b]) * e_spec[b] / (norm[b] + reg)


class PartitionedModel:
    """Streaming PBFDAF: feed ``frame`` samples of reference and mic, get the model's residual.

    Parameters
    ----------
    frame : int
        Partition (and hop) size ``N``, samples.
    partitions : int
        Number of partitions ``K``; the model covers ``K * N`` samples after the bulk delay.
    max_offset : int
        Largest bulk delay the model can take, in partitions.
    proportion : float
        0..1: share of the step handed out in proportion to each partition's weight (IPNLMS).
    reg : float
        Regularisation of the per-bin normalisation (a power floor, in |rfft|**2 units).
    """

    def __init__(self, frame: int, partitions: int, max_offset: int = 8, reg: float = 1e-6,
                 proportion: float = 0.95) -> None:
        self.frame = int(frame)
        self.partitions = int(partitions)
        self.max_offset = int(max_offset)
        n_bins = self.frame + 1
        self.n_bins = n_bins
        self.reg = float(reg)
        self.fdl = np.zeros((self.partitions + self.max_offset, n_bins), dtype=np.complex128)
        self.w = np.zeros((self.partitions, n_bins), dtype=np.complex128)
        self.grad = np.zeros_like(self.w)
        self.y_spec = np.zeros(n_bins, dtype=np.complex128)
        self.norm = np.zeros(n_bins)
        self.norm2 = np.zeros(n_bins)
        self.w_avg = np.zeros_like(self.w)
        self.gains = np.ones(self.partitions)
        self.proportion = float(proportion)
        self.step = np.zeros(n_bins)
        self.xbuf = np.zeros(2 * self.frame)
        self.ebuf = np.zeros(2 * self.frame)
        self.head = 0
        self.offset = 0
        self.frames_seen = 0

    def reset(self) -> None:
        """Forget the model and the reference history."""
        for a in (self.fdl, self.w, self.w_avg, self.xbuf, self.ebuf):
            a[:] = 0
        self.head = 0
        self.offset = 0
        self.frames_seen = 0

    def set_offset(self, offset: int) -> None:
        """Move the bulk delay to ``offset`` partitions, keeping each tap at its absolute lag."""
        offset = int(min(max(offset, 0), self.max_offset))
        shift = offset - self.offset
        for w in (self.w, self.w_avg):
            if shift > 0:
                w[:-shift] = w[shift:].copy()
                w[-shift:] = 0
            elif shift < 0:
                w[-shift:] = w[:shift].copy()
                w[:-shift] = 0
        self.offset = offset

    def process(self, ref: np.ndarray, mic: np.ndarray, step, min_norm: float = 0.0,
                average: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One hop: filter, then adapt.

        Parameters
        ----------
        ref, mic : np.ndarray, shape (frame,), float64
            The next ``frame`` samples of the reference (what went to the PA) and the mic.
        step : float or np.ndarray, shape (n_bins,)
            NLMS step, overall or per bin (0 = do not adapt; 0..1).
        min_norm : float
            Bins whose reference power summed over the partitions is below this do not adapt.
        average : float
            0..1: weight of this hop's model in the running average of the model (``w_avg``,
            an exponential average over time; 0 = no average kept).

        Returns
        -------
        (y, e, e_avg) : np.ndarray, shape (frame,), float64
            The model's estimate of the mic signal, the residual ``mic - y``, and the residual
            of the averaged model (its adaptation noise averaged out; zeros without ``average``).
        """
        n = self.frame
        self.xbuf[:n] = self.xbuf[n:]
        self.xbuf[n:] = ref
        self.head = (self.head + 1) % self.fdl.shape[0]
        self.fdl[self.head] = np.fft.rfft(self.xbuf)
        self._proportionate_gains()
        fdaf_filter(self.fdl, self.head, self.offset, self.w, self.gains, self.y_spec, self.norm)
        y = np.fft.irfft(self.y_spec, 2 * n)[n:]
        e = mic - y
        if average > 0.0:
            fdaf_filter(self.fdl, self.head, self.offset, self.w_avg, self.gains, self.y_spec,
                        self.norm2)
            e_avg = mic - np.fft.irfft(self.y_spec, 2 * n)[n:]
        else:
            e_avg = np.zeros(n)
        self.ebuf[n:] = e
        e_spec = np.fft.rfft(self.ebuf)
        self.step[:] = np.where(self.norm > min_norm, step, 0.0)
        fdaf_gradient(self.fdl, self.head, self.offset, self.gains, e_spec, self.norm, self.step,
                      self.reg, self.grad)
        g = np.fft.irfft(self.grad, 2 * n, axis=1)
        g[:, n:] = 0.0  # gradient constraint: N taps per partition
        self.w += np.fft.rfft(g, axis=1)
        if average > 0.0:
            self.w_avg += average * (self.w - self.w_avg)
        self.frames_seen += 1
        return y, e, e_avg

    def _proportionate_gains(self) -> None:
        """IPNLMS per partition: half uniform, half in proportion to the partition's weight norm.

        A room's response decays exponentially, so the early partitions, which hold most of its
        energy, learn faster; the gains average 1 (plain NLMS when ``proportion`` = 0).
        """
        k = self.partitions
        mag = np.sqrt(np.sum(self.w.real ** 2 + self.w.imag ** 2, axis=1))
        p = self.proportion
        self.gains[:] = (1.0 - p) + p * k * mag / (np.sum(mag) + 1e-12)

    def impulse_response(self, averaged: bool = False) -> np.ndarray:
        """The model (or its running average) as taps, shape (K * N,), from lag ``offset * N``."""
        w = self.w_avg if averaged else self.w
        return np.fft.irfft(w, 2 * self.frame, axis=1)[:, :self.frame].reshape(-1)


def gcc_phat(ref: np.ndarray, mic: np.ndarray, max_lag: int) -> tuple[int, float]:
    """Delay of ``mic`` behind ``ref`` by the phase-transform cross-correlation.

    Parameters
    ----------
    ref, mic : np.ndarray, shape (n,)
    max_lag : int
        Largest delay searched, samples (only mic-after-ref lags, 0..max_lag).

    Returns
    -------
    (lag_samples, peak_ratio) : (int, float)
        The delay of the strongest arrival, and its peak over the RMS of the correlation in the
        searched range (> ~10: a clear direct sound).
    """
    n = ref.size + mic.size
    nfft = 1 << int(np.ceil(np.log2(n)))
    cross = np.fft.rfft(mic, nfft) * np.conj(np.fft.rfft(ref, nfft))
    cross /= np.maximum(np.abs(cross), 1e-20)
    r = np.fft.irfft(cross, nfft)[:max_lag + 1]
    lag = int(np.argmax(np.abs(r)))
    rms = float(np.sqrt(np.mean(r * r))) + 1e-20
    return lag, float(abs(r[lag]) / rms)
