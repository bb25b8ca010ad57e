"""Levels, band energies, spectrum and waveform rows: the first fields of every FeatureFrame."""

from __future__ import annotations

import numpy as np

from liveai.dsp import levels as k
from liveai.dsp import loudness as lk
from liveai.dsp.rhythm import push
from liveai.frame import N_BANDS, SPECTRUM_BINS, WAVEFORM_SAMPLES

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


class LevelAnalyzer:
    """Streaming level analysis, one hop at a time.

    Parameters
    ----------
    sample_rate_hz : int
    hop_length : int
        Samples per call of :meth:`process_hop`.
    n_fft : int
        FFT size; frames cover the last ``n_fft`` samples (Hann window).

    Attributes
    ----------
    latency_samples : int
        0 for levels (they describe the hop just received); band energies are centred
        ``n_fft / 2`` samples back.
    """

    latency_samples = 0

    def __init__(self, sample_rate_hz: int, hop_length: int = 512, n_fft: int = 2048,
                 channels: int = 1) -> None:
        if hop_length > n_fft:
            raise ValueError(f"hop_length {hop_length} > n_fft {n_fft}")
        self.sample_rate_hz = int(sample_rate_hz)
        self.hop_length = int(hop_length)
        self.n_fft = int(n_fft)
        self._window = np.hanning(n_fft + 1)[:n_fft]
        self._norm = 2.0 / (n_fft * float(np.sum(self._window**2)))
        self._lo, self._hi, self.band_edges_hz = k.log_band_edges(sample_rate_hz, n_fft, N_BANDS)
        self._mono = np.zeros(hop_length, dtype=np.float32)
        self._buf = np.zeros(n_fft, dtype=np.float64)
        self._windowed = np.zeros(n_fft, dtype=np.float64)
        #: The last hop's spectrum (rfft of the Hann-windowed last n_fft samples).
        self.spec = np.zeros(n_fft // 2 + 1, dtype=np.complex128)
        self._band_db = np.zeros(N_BANDS, dtype=np.float32)
        self._rms_db = np.zeros(1, dtype=np.float32)
        self._band_level = np.zeros(N_BANDS, dtype=np.float32)
        self._level = np.zeros(1, dtype=np.float32)
        self._band_ceil_db = np.zeros(N_BANDS)
        self._level_ceil_db = np.zeros(1)
        self._fall_db = PEAK_FALL_DB_PER_S * hop_length / sample_rate_hz  # [dB/s] * [s/hop]
        self._bin_hz = sample_rate_hz / n_fft  # [samples/s] / [samples/FFT]
        n_bins = n_fft // 2 + 1
        self._chroma_lo = max(1, int(CHROMA_FMIN_HZ / self._bin_hz))
        self._chroma_hi = min(n_bins - 2, int(CHROMA_FMAX_HZ / self._bin_hz))
        self._chroma_state = np.zeros(12)
        self._chroma = np.zeros(12, dtype=np.float32)
        self._chroma_smoothing = float(np.exp(-hop_length / (sample_rate_hz * CHROMA_MEMORY_S)))
        # BS.1770 loudness: K-weighted energy per hop per channel, summed over 3 s / 400 ms.
        self._k_coeffs = lk.k_weighting(sample_rate_hz)
        self._k_state = np.zeros((channels, 2, 2))
        self._k_energy = np.zeros(channels)
        self._st_hops = max(1, round(3.0 * sample_rate_hz / hop_length))
        self._m_hops = max(1, round(0.4 * sample_rate_hz / hop_length))
        self._energy_hist = np.zeros(self._st_hops)  # channel-summed energy per hop
        self._spec_state = np.zeros(SPECTRUM_BINS, dtype=np.float64)
        self._spec_row = np.zeros(SPECTRUM_BINS, dtype=np.float32)
        self._n_spec = min(SPECTRUM_BINS, self.spec.shape[0])
        self.reset()

    @property
    def history(self) -> np.ndarray:
        """The last ``n_fft`` mono input samples, newest last, float64 (a view)."""
        return self._buf

    def reset(self) -> None:
        """Forget all history."""
        self._buf[:] = 0.0
        self._spec_state[:] = 0.0
        self._band_ceil_db[:] = k.FLOOR_DB
        self._level_ceil_db[:] = k.FLOOR_DB
        self._k_state[:] = 0.0
        self._energy_hist[:] = 0.0
        self._chroma_state[:] = 0.0
        self.samples_seen = 0
        self.nonfinite_samples = 0

    def process_hop(self, hop: np.ndarray, frame: np.ndarray) -> None:
        """Analyse one hop and fill the level fields of ``frame``.

        Parameters
        ----------
        hop : np.ndarray, shape (hop_length, channels), float32
            The next samples; NaN/Inf count as silence (and are counted).
        frame : np.ndarray
            A 0-d FRAME_DTYPE array; ``rms_db``, ``peak_db``, ``level``, ``band_db``,
            ``band_level``, ``spectrum``, ``waveform``, ``stream_time_samples``,
            ``nonfinite_samples`` are written.
        """
        if (hop.ndim != 2 or hop.shape[0] != self.hop_length or hop.dtype != np.float32
                or not hop.flags.c_contiguous):
            # The kernels do no bounds checks: a wrong shape must never reach them.
            raise ValueError(f"hop must be a C-contiguous float32 array of shape "
                             f"({self.hop_length}, channels), got {hop.dtype} {hop.shape}")
        if hop.shape[1] != self._k_state.shape[0]:  # sized for another channel count
            self._k_state = np.zeros((hop.shape[1], 2, 2))
            self._k_energy = np.zeros(hop.shape[1])
        self.nonfinite_samples += k.mix_to_mono(hop, self._mono)
        lk.k_weighted_energy(hop, self._k_coeffs, self._k_state, self._k_energy)
        hist = self._energy_hist
        push(hist, float(self._k_energy.sum()))
        rms_db, peak_db = k.rms_peak_db(self._mono)
        k.shift_append(self._buf, self._mono)
        k.apply_window(self._buf, self._window, self._windowed)
        np.fft.rfft(self._windowed, out=self.spec)
        k.band_powers_db(self.spec, self._lo, self._hi, self._norm, self._band_db)
        k.spectrum_row(self.spec, float(self.n_fft), SPECTRUM_SMOOTHING, self._spec_state,
                       SPECTRUM_DB_RANGE[0], SPECTRUM_DB_RANGE[1], self._spec_row)
        self.samples_seen += hop.shape[0]
        frame["stream_time_samples"] = self.samples_seen
        h = self.hop_length
        frame["loudness_lufs"] = _lufs(hist.sum() / (h * self._st_hops))
        frame["momentary_lufs"] = _lufs(hist[-self._m_hops :].sum() / (h * self._m_hops))
        frame["rms_db"] = rms_db
        frame["peak_db"] = peak_db
        self._rms_db[0] = rms_db
        k.adaptive_unit(self._rms_db, self._level_ceil_db, self._fall_db, LEVEL_RANGE_DB,
                        LEVEL_MIN_PEAK_DB, self._level)
        frame["level"] = self._level[0]
        frame["band_db"] = self._band_db
        k.adaptive_unit(self._band_db, self._band_ceil_db, self._fall_db, BAND_RANGE_DB,
                        BAND_MIN_PEAK_DB, self._band_level)
        frame["band_level"] = self._band_level
        frame["spectrum"][: self._n_spec] = self._spec_row[: self._n_spec]
        k.chroma(self.spec, self._bin_hz, self._chroma_lo, self._chroma_hi,
                 self._chroma_smoothing, self._chroma_state, self._chroma)
        frame["chroma"] = self._chroma
        frame["pitch_class"] = int(np.argmax(self._chroma)) if self._chroma.any() else -1
        frame["waveform"] = self._buf[-WAVEFORM_SAMPLES:]
        frame["nonfinite_samples"] = self.nonfinite_samples


def _lufs(mean_square: float) -> float:
    """BS.1770 loudness of a channel-summed mean square, floored at FLOOR_DB."""
    if mean_square <= 1e-12:
        return k.FLOOR_DB
    return lk.LUFS_OFFSET_DB + 10.0 * float(np.log10(mean_square))
