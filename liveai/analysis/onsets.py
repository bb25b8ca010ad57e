"""Onsets (overall and per band) and the beat tracker's detection function, one hop at a time.

Each hop is one compiled call (:func:`_onset_hop`): both windowed FFTs, the flux, the adaptive
thresholds and the record fields, so the Python cost of a hop is one numba dispatch.
:class:`liveai.analysis.pipeline.FrameAnalyzer` goes further and runs this kernel inside its
own single call per hop, where the longer (rhythm) FFT is the level analyser's: one FFT of
the frame serves both.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import njit

from liveai.dsp import beatstate as bs
from liveai.dsp import rhythm as k
from liveai.dsp.windows import onset_window  # (re-exported: the beat tracker imports it here)
from liveai.frame import new_frame

#: Onset bands: overall, then low (kick), mid (snare body), high (hats); Hz.
ONSET_BANDS_HZ = ((30.0, 16000.0), (30.0, 150.0), (150.0, 2500.0), (5000.0, 16000.0))
#: Upper edge of the low bands of the rhythm detection function (kick, bass), Hz.
RHYTHM_LOW_HZ = 200.0
#: Weight of each low band against any other band in the rhythm detection function.
RHYTHM_LOW_WEIGHT = 2.0


class OnsetDetector:
    """Spectral-flux onsets with adaptive thresholds, reported in the hop they happen.

    The flux comes from its own short FFT (1024 samples, or two hops for long hops) over the newest
    samples with :func:`onset_window`: a hit is reported at the end of the hop that contains
    it, or, when it arrives in the last few milliseconds of a hop, at the end of the next one.
    The same call computes the beat tracker's detection function (:attr:`rhythm_odf`) from a
    longer frame (``n_fft`` samples, the same window), or reads that frame's spectrum from
    ``rhythm_spectrum`` where another analyser computes it.

    Parameters
    ----------
    sample_rate_hz : int
    n_fft : int
        Samples available (the level analyser's frame); the onset FFT uses
        ``min(n_fft, max(1024, 2 * hop_length))`` of them.
    hop_length : int
    threshold_s : float
        Memory of the running mean/deviation that set each channel's threshold.
    k_dev : float
        Threshold = running mean + ``k_dev`` × running deviation + a small floor.
    refractory_ms : float
        Minimum time between two onsets of one channel.
    min_rel : float
        An onset must reach this fraction of its channel's decaying peak (memory ``peak_s``).
    rhythm_spectrum : np.ndarray, shape (n_fft_rhythm // 2 + 1,), complex128, optional
        An array that, before each :meth:`process`, already holds the rhythm frame's spectrum:
        ``rfft(history[-n_fft_rhythm:] * onset_window(n_fft_rhythm))``. The level analyser
        computes exactly that (:class:`liveai.analysis.pipeline.FrameAnalyzer` passes its
        ``spec``), so the detector skips its own copy of the largest FFT of the hop. None:
        the detector computes it.

    Attributes
    ----------
    latency_samples : int
        The longest delay from a hit to the end of the hop that reports it: two hops.
    odf : np.ndarray, shape (4,), float64
        This hop's detection function (overall, low, mid, high).
    rhythm_odf : np.ndarray, shape (2,), float64
        This hop's rhythm detection function (for the beat tracker) and its low band.
    counts : np.ndarray, shape (4,), int64
        Onsets so far (overall, low, mid, high).
    """

    def __init__(self, sample_rate_hz: int, n_fft: int, hop_length: int,
                 threshold_s: float = 1.5, k_dev: float = 2.0, refractory_ms: float = 60.0,
                 floor: float = 0.02, min_rel: float = 0.2, peak_s: float = 4.0,
                 rhythm_spectrum: np.ndarray | None = None) -> None:
        n_fft_available = int(n_fft)
        # Long enough to see a whole hop (and then some), short enough to react fast.
        n_fft = min(int(n_fft), max(1024, 2 * int(hop_length)))
        self.n_fft = n_fft
        self.latency_samples = 2 * int(hop_length)
        self._window = onset_window(n_fft)
        self._amp_scale = 2.0 / float(np.sum(self._window))
        self._windowed = np.zeros(n_fft)
        self._spec = np.zeros(n_fft // 2 + 1, dtype=np.complex128)
        nyq = 0.95 * sample_rate_hz / 2
        lo, hi = [], []
        for f_lo, f_hi in ONSET_BANDS_HZ:
            a = int(round(f_lo * n_fft / sample_rate_hz))  # [Hz] * [bins/Hz]
            b = int(round(min(f_hi, nyq) * n_fft / sample_rate_hz))
            lo.append(a)
            hi.append(max(b, a + 1))
        self._lo = np.array(lo, dtype=np.int64)
        self._hi = np.array(hi, dtype=np.int64)
        self._prev_log = np.zeros(n_fft // 2 + 1)
        self.odf = np.zeros(4)
        # pick_onsets' state per channel: running mean, running deviation, previous value,
        # frames since the last onset, decaying peak
        self._stats = np.zeros((5, 4))
        self._n_frames = np.zeros(1, dtype=np.int64)
        self._onset = np.zeros(4, dtype=np.int64)
        self._strength = np.zeros(4, dtype=np.float32)
        self.counts = np.zeros(4, dtype=np.int64)
        # The rhythm detection function (for the beat tracker) looks at a longer frame, for
        # the resolution of the low bands, through log-spaced bands and a maximum filter.
        self.n_fft_rhythm = max(int(n_fft_available), n_fft)
        self._rwindow = onset_window(self.n_fft_rhythm)
        self._rwindowed = np.zeros(self.n_fft_rhythm)  # also superflux's scratch
        n_rbins = self.n_fft_rhythm // 2 + 1
        if rhythm_spectrum is None:
            self._rspec = np.zeros(n_rbins, dtype=np.complex128)
        elif (rhythm_spectrum.shape != (n_rbins,) or rhythm_spectrum.dtype != np.complex128
              or not rhythm_spectrum.flags.c_contiguous):
            # The kernel does no bounds checks: a spectrum of another frame must not reach it.
            raise ValueError(f"rhythm_spectrum must be a C-contiguous complex128 array of shape "
                             f"({n_rbins},), got {rhythm_spectrum.dtype} "
                             f"{rhythm_spectrum.shape}")
        else:
            self._rspec = rhythm_spectrum
        self._fb_lo, self._fb_hi = bs.log_filterbank(sample_rate_hz, self.n_fft_rhythm)
        low_bands = int(np.sum(self._fb_hi * sample_rate_hz / self.n_fft_rhythm
                               <= RHYTHM_LOW_HZ))
        self._fb_prev = np.zeros(self._fb_lo.shape[0])
        self._fb_cur = np.zeros(self._fb_lo.shape[0])
        self.rhythm_odf = np.zeros(2)
        decay = math.exp(-hop_length / (sample_rate_hz * threshold_s))
        peak_decay = math.exp(-hop_length / (sample_rate_hz * peak_s))
        refractory = math.ceil(refractory_ms * 1e-3 * sample_rate_hz / hop_length)
        #: The kernel's arguments after ``history, frame``, gathered once: looking up 30
        #: attributes every hop would cost more than some of the kernels they feed.
        self.kernel_args = (
            self._window, self._windowed, self._spec, self._amp_scale, self._prev_log, self._lo,
            self._hi, self.odf, self._stats, self._n_frames, decay, peak_decay, float(k_dev),
            float(floor), float(min_rel), float(refractory), self._onset, self._strength,
            self.counts, rhythm_spectrum is None, self._rwindow, self._rwindowed, self._rspec,
            2.0 / float(np.sum(self._rwindow)), self._fb_lo, self._fb_hi, low_bands,
            RHYTHM_LOW_WEIGHT, self._fb_prev, self._fb_cur, self.rhythm_odf)
        self.reset()

    def reset(self) -> None:
        """Forget all history."""
        for a in (self._prev_log, self.odf, self._stats, self._fb_prev, self.rhythm_odf):
            a[:] = 0.0
        self._stats[3] = 1e9  # frames since the last onset: long ago
        self.counts[:] = 0
        self._n_frames[:] = 0

    def process(self, history: np.ndarray, frame: np.ndarray) -> None:
        """Update from the newest samples; write the onset fields of ``frame``.

        Parameters
        ----------
        history : np.ndarray, shape (>= n_fft_rhythm,), float64
            Mono input, newest sample last (the level analyser's buffer).
        frame : np.ndarray
            A 0-d FRAME_DTYPE array; ``onset_strength``, ``onset_count``,
            ``band_onset_strength`` and ``band_onset_count`` are written.
        """
        if history.ndim != 1 or history.shape[0] < self.n_fft_rhythm:
            # The kernel does no bounds checks: a short history must never reach it.
            raise ValueError(f"history must be 1-d with at least {self.n_fft_rhythm} samples, "
                             f"got shape {history.shape}")
        _onset_hop(history, frame, *self.kernel_args)

    @property
    def fired(self) -> np.ndarray:
        """1 per channel where an onset fired in the last hop (overall, low, mid, high)."""
        return self._onset


@njit(cache=True, nogil=True)
def _onset_hop(history, frame, window, windowed, spec, amp_scale, prev_log, band_lo, band_hi,
               odf, stats, n_frames, decay, peak_decay, k_dev, floor, min_rel, refractory, onset,
               strength, counts, rhythm_rfft, rwindow, rwindowed, rspec, ramp_scale, fb_lo, fb_hi,
               low_bands, low_weight, fb_prev, fb_cur, rhythm_odf):  # pragma: no cover - compiled
    """:func:`liveai.dsp.rhythm.onset_hop`, then the onset fields into the FeatureFrame record.

    ``frame`` is a 0-d FRAME_DTYPE array; the other arguments are those of ``onset_hop``
    (:attr:`OnsetDetector.kernel_args`).

    Returns
    -------
    onset_value, low_value : float
        What the beat tracker reads: this hop's rhythm detection function (``rhythm_odf[0]``)
        and the low band's onset flux (``odf[1]``).
    """
    k.onset_hop(history, window, windowed, spec, amp_scale, prev_log, band_lo, band_hi, odf,
                stats, n_frames, decay, peak_decay, k_dev, floor, min_rel, refractory, onset,
                strength, counts, rhythm_rfft, rwindow, rwindowed, rspec, ramp_scale, fb_lo, fb_hi,
                low_bands, low_weight, fb_prev, fb_cur, rhythm_odf)
    r = frame[()]
    r.onset_strength = strength[0]
    r.onset_count = counts[0]
    for c in range(r.band_onset_count.shape[0]):
        r.band_onset_strength[c] = strength[c + 1]
        r.band_onset_count[c] = counts[c + 1]
    return rhythm_odf[0], odf[1]


def warm_up() -> float:
    """Compile (or load from numba's cache) the detector's kernel; return the seconds taken."""
    t0 = time.perf_counter()
    det = OnsetDetector(48000, 2048, 512)
    det.process(np.zeros(2048), new_frame())
    return time.perf_counter() - t0
