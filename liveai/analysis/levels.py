"""Levels, band energies, spectrum and waveform rows: the first fields of every FeatureFrame.

Each hop is one compiled call (:func:`_level_hop`): the kernels of :mod:`liveai.dsp.levels` run
in order and their results go straight into the FeatureFrame record, so the Python cost of a
hop is one shape check and one numba dispatch.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from liveai.dsp import levels as k
from liveai.dsp import loudness as lk
from liveai.dsp.windows import onset_window
from liveai.frame import N_BANDS, SPECTRUM_BINS, WAVEFORM_SAMPLES, new_frame

#: Adaptive display mapping: 0..1 spans this many dB below a peak that falls this fast, so a
#: quiet room and a loud one both drive the visuals across their whole range.
LEVEL_RANGE_DB = 30.0
BAND_RANGE_DB = 40.0
PEAK_FALL_DB_PER_S = 1.0
#: Chroma: spectral peaks from CHROMA_FMIN_HZ to CHROMA_FMAX_HZ, smoothed over CHROMA_MEMORY_S.
CHROMA_FMIN_HZ = 100.0
CHROMA_FMAX_HZ = 5000.0
CHROMA_MEMORY_S = 0.25
#: The peak never falls below these (dBFS): quiet music still fills the range, hiss does not.
LEVEL_MIN_PEAK_DB = -45.0
BAND_MIN_PEAK_DB = -50.0
SPECTRUM_DB_RANGE = (-100.0, -30.0)  # WebAudio's AnalyserNode defaults
SPECTRUM_SMOOTHING = 0.8
# Compared with `!=`: against a dtype, not the type np.float32, no dtype is built per hop.
_FLOAT32 = np.dtype(np.float32)


class LevelAnalyzer:
    """Streaming level analysis, one hop at a time.

    Parameters
    ----------
    sample_rate_hz : int
    hop_length : int
        Samples per call of :meth:`process_hop`.
    n_fft : int
        FFT size; frames cover the last ``n_fft`` samples under
        :func:`liveai.dsp.windows.onset_window`, which leans on the newest ones (the onset
        detector's rhythm frame: :class:`liveai.analysis.pipeline.FrameAnalyzer` computes
        that FFT once for both).
    channels : int
        Channels of each hop; buffers are resized on the first hop if it differs.

    Attributes
    ----------
    latency_samples : int
        0 for levels (they describe the hop just received); the window of the band energies,
        spectrum and chroma has its centre of mass about ``0.4 * n_fft`` samples back (815 of
        2048; a Hann window's is ``n_fft / 2``).
    kernel_args : tuple
        :func:`_level_hop`'s arguments after ``hop, frame`` (state, settings, outputs),
        gathered once; a new tuple after :meth:`check_hop` resizes for a new channel count.
    """

    latency_samples = 0

    def __init__(self, sample_rate_hz: int, hop_length: int = 512, n_fft: int = 2048,
                 channels: int = 1) -> None:
        if hop_length > n_fft:
            raise ValueError(f"hop_length {hop_length} > n_fft {n_fft}")
        if n_fft < WAVEFORM_SAMPLES:  # the waveform row is the tail of the n_fft history
            raise ValueError(f"n_fft {n_fft} < {WAVEFORM_SAMPLES} (the waveform row)")
        self.sample_rate_hz = int(sample_rate_hz)
        self.hop_length = int(hop_length)
        self.n_fft = int(n_fft)
        self._window = onset_window(n_fft)
        # Parseval: summed |X|^2 times this is the mean square, so a sine of amplitude A in a
        # band reads 20 log10(A / sqrt(2)).
        self._norm = 2.0 / (n_fft * float(np.sum(self._window**2)))
        # The spectrum row's |X|/N: N = 2 sum(w) keeps a sine where |X|/n_fft of a Hann window
        # put it (the two sums are equal for this window; the formula holds for any).
        self._mag_ref = 2.0 * float(np.sum(self._window))
        self._lo, self._hi, self.band_edges_hz = k.log_band_edges(sample_rate_hz, n_fft, N_BANDS)
        self._mono = np.zeros(hop_length, dtype=np.float32)
        self._buf = np.zeros(n_fft, dtype=np.float64)
        self._windowed = np.zeros(n_fft, dtype=np.float64)
        #: The last hop's spectrum: rfft of the last n_fft samples times the window. It is
        #: the onset detector's rhythm frame too: FrameAnalyzer's detector reads it here.
        self.spec = np.zeros(n_fft // 2 + 1, dtype=np.complex128)
        n_bins = n_fft // 2 + 1
        self._bin_hz = sample_rate_hz / n_fft  # [samples/s] / [samples/FFT]
        self._chroma_lo = max(1, int(CHROMA_FMIN_HZ / self._bin_hz))
        self._chroma_hi = min(n_bins - 2, int(CHROMA_FMAX_HZ / self._bin_hz))
        self._chroma_smoothing = float(np.exp(-hop_length / (sample_rate_hz * CHROMA_MEMORY_S)))
        self._n_spec = min(SPECTRUM_BINS, n_bins)
        # |X| of the bins the spectrum row and chroma read, computed once per hop.
        self._mag = np.zeros(min(n_bins, max(self._n_spec, self._chroma_hi + 1)))
        # BS.1770 loudness: K-weighted energy per hop per channel, summed over 3 s / 400 ms.
        self._k_coeffs = lk.k_weighting(sample_rate_hz)
        self._k_state = np.zeros((channels, 2, 2))
        self._k_energy = np.zeros(channels)
        self._st_hops = max(1, round(3.0 * sample_rate_hz / hop_length))
        self._m_hops = min(self._st_hops, max(1, round(0.4 * sample_rate_hz / hop_length)))
        self._energy_hist = np.zeros(self._st_hops)  # channel-summed energy per hop
        fall_db = PEAK_FALL_DB_PER_S * hop_length / sample_rate_hz  # [dB/s] * [s/hop]
        self._adapt = np.array([fall_db, LEVEL_RANGE_DB, LEVEL_MIN_PEAK_DB, BAND_RANGE_DB,
                                BAND_MIN_PEAK_DB])
        # Stream state the kernel updates in place (adaptive peaks, smoothing memories).
        self._band_ceil_db = np.zeros(N_BANDS)
        self._level_ceil_db = np.zeros(1)
        self._spec_state = np.zeros(self._n_spec, dtype=np.float64)
        self._chroma_state = np.zeros(12)
        self._chroma_scratch = np.zeros((3, self._chroma_hi - self._chroma_lo + 2))
        self._counts = np.zeros(2, dtype=np.int64)  # samples seen, non-finite samples
        # The kernel's outputs, copied into the frame by the same kernel.
        self._rms_db = np.zeros(2, dtype=np.float32)  # rms, peak
        self._lufs = np.zeros(2, dtype=np.float32)  # short-term, momentary
        self._level = np.zeros(1, dtype=np.float32)
        self._band_db = np.zeros(N_BANDS, dtype=np.float32)
        self._band_level = np.zeros(N_BANDS, dtype=np.float32)
        self._spec_row = np.zeros(self._n_spec, dtype=np.float32)
        self._chroma = np.zeros(12, dtype=np.float32)
        self._bind()
        self.reset()

    def _bind(self) -> None:
        """Gather the kernel's arguments once (:attr:`kernel_args`).

        Looking up 36 attributes every hop would cost more than some of the kernels they feed.
        """
        self.kernel_args = (
            self._counts, self._mono, self._k_coeffs, self._k_state, self._k_energy,
            self._energy_hist, self._buf, self._window, self._windowed, self.spec, self._mag,
            self._lo, self._hi, self._norm, self._mag_ref, SPECTRUM_SMOOTHING,
            self._spec_state, SPECTRUM_DB_RANGE[0], SPECTRUM_DB_RANGE[1], self._bin_hz,
            self._chroma_lo, self._chroma_hi, self._chroma_smoothing, self._chroma_state,
            self._chroma_scratch, self._adapt, self._level_ceil_db, self._band_ceil_db,
            self._m_hops, self._rms_db, self._lufs, self._level, self._band_db, self._band_level,
            self._spec_row, self._chroma)

    @property
    def history(self) -> np.ndarray:
        """The last ``n_fft`` mono input samples, newest last, float64 (a view)."""
        return self._buf

    @property
    def samples_seen(self) -> int:
        """Input samples analysed since the last :meth:`reset`."""
        return int(self._counts[0])

    @property
    def nonfinite_samples(self) -> int:
        """NaN/Inf input samples replaced by silence since the last :meth:`reset`."""
        return int(self._counts[1])

    def reset(self) -> None:
        """Forget all history."""
        self._buf[:] = 0.0
        self._spec_state[:] = 0.0
        self._band_ceil_db[:] = k.FLOOR_DB
        self._level_ceil_db[:] = k.FLOOR_DB
        self._k_state[:] = 0.0
        self._energy_hist[:] = 0.0
        self._chroma_state[:] = 0.0
        self._counts[:] = 0

    def process_hop(self, hop: np.ndarray, frame: np.ndarray) -> None:
        """Analyse one hop and fill the level fields of ``frame``.

        Parameters
        ----------
        hop : np.ndarray, shape (hop_length, channels), float32
            The next samples; NaN/Inf count as silence (and are counted).
        frame : np.ndarray
            A 0-d FRAME_DTYPE array; ``stream_time_samples``, ``rms_db``, ``peak_db``,
            ``loudness_lufs``, ``momentary_lufs``, ``level``, ``band_db``, ``band_level``,
            ``spectrum`` (its first ``n_fft // 2 + 1`` bins at most), ``waveform``, ``chroma``,
            ``pitch_class`` and ``nonfinite_samples`` are written.
        """
        self.check_hop(hop)
        _level_hop(hop, frame, *self.kernel_args)

    def check_hop(self, hop: np.ndarray) -> None:
        """Refuse a hop the kernel cannot take; resize for a new channel count.

        :attr:`kernel_args` is a new tuple after a resize.

        Raises
        ------
        ValueError
            ``hop`` is not a C-contiguous float32 array of shape (hop_length, channels).
        """
        if (hop.ndim != 2 or hop.shape[0] != self.hop_length or hop.dtype != _FLOAT32
                or not hop.flags.c_contiguous):
            # The kernels do no bounds checks: a wrong shape must never reach them.
            raise ValueError(f"hop must be a C-contiguous float32 array of shape "
                             f"({self.hop_length}, channels), got {hop.dtype} {hop.shape}")
        if hop.shape[1] != self._k_state.shape[0]:  # sized for another channel count
            self._k_state = np.zeros((hop.shape[1], 2, 2))
            self._k_energy = np.zeros(hop.shape[1])
            self._bind()


@njit(cache=True, nogil=True)
def _level_hop(hop, frame, counts, mono, k_coeffs, k_state, k_energy, energy_hist, buf, window,
               windowed, spec, mag, band_lo, band_hi, band_norm, mag_ref, spec_smoothing,
               spec_state, spec_db_min, spec_db_max, bin_hz, chroma_lo, chroma_hi,
               chroma_smoothing, chroma_state, chroma_scratch, adapt, level_ceil_db, band_ceil_db,
               m_hops, rms_db, lufs, level, band_db, band_level, spec_row,
               chroma):  # pragma: no cover - compiled
    """:func:`liveai.dsp.levels.level_hop`, then its results into the FeatureFrame record.

    Writing the record here, in the same compiled call, replaces a dozen structured-field
    assignments from Python (each costs about as much as the numerics of a small kernel).
    ``counts`` (2,) int64 holds samples seen and non-finite samples so far; the other
    arguments are those of ``level_hop``.
    """
    nonfinite = k.level_hop(
        hop, mono, k_coeffs, k_state, k_energy, energy_hist, buf, window, windowed, spec, mag,
        band_lo, band_hi, band_norm, mag_ref, spec_smoothing, spec_state, spec_db_min,
        spec_db_max, bin_hz, chroma_lo, chroma_hi, chroma_smoothing, chroma_state,
        chroma_scratch, adapt, level_ceil_db, band_ceil_db, m_hops, rms_db, lufs, level, band_db,
        band_level, spec_row, chroma)
    counts[0] += hop.shape[0]
    counts[1] += nonfinite
    r = frame[()]
    r.stream_time_samples = counts[0]
    r.loudness_lufs = lufs[0]
    r.momentary_lufs = lufs[1]
    r.rms_db = rms_db[0]
    r.peak_db = rms_db[1]
    r.level = level[0]
    for b in range(band_db.shape[0]):
        r.band_db[b] = band_db[b]
        r.band_level[b] = band_level[b]
    for i in range(spec_row.shape[0]):
        r.spectrum[i] = spec_row[i]
    best = -1  # the strongest pitch class, the first of equals; -1 when all are 0 (silence)
    for c in range(12):
        r.chroma[c] = chroma[c]
        if chroma[c] != 0.0 and (best < 0 or chroma[c] > chroma[best]):
            best = c
    r.pitch_class = best
    n = buf.shape[0]
    n_wave = r.waveform.shape[0]
    for i in range(n_wave):
        r.waveform[i] = buf[n - n_wave + i]
    r.nonfinite_samples = counts[1]


def warm_up() -> float:
    """Compile (or load from numba's cache) the analyser's kernel; return the seconds taken."""
    t0 = time.perf_counter()
    an = LevelAnalyzer(48000, 512, 2048)
    an.process_hop(np.zeros((512, 1), dtype=np.float32), new_frame())
    return time.perf_counter() - t0
