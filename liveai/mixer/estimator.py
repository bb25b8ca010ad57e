"""Live room response, coherence and crowd level, estimated from the programme itself.

Reference = what the mixer sends to the PA; measurement = the room mic. A partitioned
frequency-domain adaptive filter (:class:`liveai.dsp.fdaf.PartitionedModel`) as long as the
reverb learns the path; a GCC-PHAT delay finder puts its first partition at the direct sound.
From the model:

- ``response_db``: the model's impulse response, transformed and power-averaged in ⅓-octave bands;
- ``coherence``: magnitude-squared coherence of the model's estimate ``ŷ`` with the mic, averaged
  over ``average_s`` and over the bins of each band (how much of the mic the programme explains);
- crowd level: the residual ``e = mic - ŷ`` is crowd plus echo the model has not learned, and
  in a reverberant hall the model explains the mic only to some 20-25 dB (see ``erle_db``), so a
  quiet crowd drowns in that echo. :class:`liveai.mixer.crowd.CrowdRegression` removes it: it
  runs a frozen snapshot of the model back over the last seconds and regresses its residual on
  the reference over 5.5 s frames, fine bin by fine bin; what no fixed filter of the reference
  explains is the crowd. Until its first three frames are in (11 s into the programme) the
  residual stands in; after the room changed, an exact least-squares fit of the new room
  measures the crowd until three frames of it are in (from 2.3 s after the change).

Everything runs when a full hop of ``frame`` samples has arrived, inside :meth:`push`; it is
deterministic and independent of the caller's block size.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from liveai.dsp.fdaf import PartitionedModel, gcc_phat
from liveai.dsp.octave import band_centers_hz, band_matrix
from liveai.mixer.config import MixerConfig
from liveai.mixer.crowd import CrowdRegression

log = logging.getLogger(__name__)

_FLOOR = 1e-14  # -140 dB
#: How far (power ratio, +2 dB) the residual of a band may stand above the regression's crowd
#: level (a few seconds older) and still be taken as the crowd itself.
_CROWD_SLACK = 10.0 ** (2.0 / 10.0)


def _db(p):
    return 10.0 * np.log10(np.maximum(p, _FLOOR))


def estimator_freqs_hz(sample_rate_hz: int) -> np.ndarray:
    """The ⅓-octave centres every estimate is reported on, Hz, shape (n_freqs,)."""
    return band_centers_hz(25.0, min(16000.0, 0.42 * int(sample_rate_hz)))


class RoomEstimator:
    """Streaming estimate of the PA → room → mic path.

    Parameters
    ----------
    sample_rate_hz : int
    config : MixerConfig
    """

    def __init__(self, sample_rate_hz: int, config: MixerConfig) -> None:
        self.sample_rate_hz = sr = int(sample_rate_hz)
        self.config = config
        self.frame = n = 1 << int(round(math.log2(sr * 0.04)))  # ~40 ms hops (2048 at 48 kHz)
        partitions = max(1, int(math.ceil(config.room_model_s * sr / n)))
        max_offset = int(math.ceil(config.max_delay_ms * 1e-3 * sr / n))
        floor_pow = 10.0 ** (config.ref_floor_db / 10.0)  # mean square
        # |rfft|**2 of 2N samples of white noise at the floor is 2N * power; summed over partitions
        self.model = PartitionedModel(n, partitions, max_offset, reg=partitions * 2 * n * floor_pow)
        self._bin_floor = 2 * n * floor_pow
        self._ref = np.zeros(n)
        self._mic = np.zeros(n)
        self._fill = 0
        # delay finder: the last 4 s of reference and mic
        self._hist_len = max(n * int(math.ceil(4.0 * sr / n)),
                             1 << int(math.ceil(math.log2(5.0 * sr))))
        self._ref_hist = np.zeros(self._hist_len)
        self._mic_hist = np.zeros(self._hist_len)
        self._delay_every = max(1, int(round(2.0 * sr / n)))
        self._delay_candidate = -1
        self.delay_samples = -1  # not found yet
        self.delay_confidence = 0.0
        # analysis spectra: Hann frames of N samples
        self._win = np.hanning(n + 2)[1:-1]
        self._scale = 2.0 / (n * float(np.sum(self._win ** 2)))  # |X|^2 -> mean square share
        self.bin_freqs_hz = np.fft.rfftfreq(n, 1.0 / sr)
        self.freqs_hz = estimator_freqs_hz(sr)
        self._bands = band_matrix(self.bin_freqs_hz, self.freqs_hz)
        # every bin belongs to exactly one crowd bucket (the bands plus the bins around them)
        self._bucket = np.argmax(self._bands > 0, axis=0)
        edges_lo = self.freqs_hz[0] * 2 ** (-1 / 6)
        edges_hi = self.freqs_hz[-1] * 2 ** (1 / 6)
        self._bucket[self.bin_freqs_hz < edges_lo] = 0
        self._bucket[self.bin_freqs_hz >= edges_hi] = self.freqs_hz.size - 1
        self._bucket_m = np.zeros((self.freqs_hz.size, self.bin_freqs_hz.size))
        self._bucket_m[self._bucket, np.arange(self.bin_freqs_hz.size)] = 1.0
        nb = self.bin_freqs_hz.size
        self._syy = np.zeros(nb)
        self._sdd = np.zeros(nb)
        self._syd = np.zeros(nb, dtype=np.complex128)
        self._see = np.zeros(nb)
        self._model_to_bin = np.minimum(np.arange(n + 1) // 2, nb - 1)  # 2N-FFT bins -> N-FFT bins
        #: the crowd, by an exact regression on snapshots of the model (see liveai.mixer.crowd)
        self.crowd = CrowdRegression(sr, self.freqs_hz, self.model.w.shape, n,
                                     max_lag_samples=self.model.fdl.shape[0] * n,
                                     average_s=config.average_s)
        hop_s = n / sr
        self._a_avg = 1.0 - math.exp(-hop_s / config.average_s)
        self._a_model = 1.0 - math.exp(-hop_s / 2.0)  # model average over ~2 s
        self.step_floor = 0.5  # smallest share of the step a crowd-dominated bin keeps
        nbk = self.freqs_hz.size
        self._crowd_band = np.zeros(nbk)
        self._music_band = np.zeros(nbk)
        self._mic_pow = 0.0
        self._res_pow = 0.0
        self.frames = 0
        self.nonfinite = 0
        self._resp_cache: tuple[int, np.ndarray] | None = None
        self._resp_bands: np.ndarray | None = None

    # -- streaming -------------------------------------------------------------------------------
    def push(self, ref: np.ndarray, mic: np.ndarray) -> int:
        """Feed equal-length blocks of reference and mic; returns the number of hops analysed."""
        ref = np.asarray(ref, dtype=np.float64)
        mic = np.asarray(mic, dtype=np.float64)
        bad = ~np.isfinite(mic)
        if bad.any():
            self.nonfinite += int(np.count_nonzero(bad))
            mic = np.where(bad, 0.0, mic)
        hops = 0
        i = 0
        n = self.frame
        while i < ref.size:
            take = min(n - self._fill, ref.size - i)
            self._ref[self._fill:self._fill + take] = ref[i:i + take]
            self._mic[self._fill:self._fill + take] = mic[i:i + take]
            self._fill += take
            i += take
            if self._fill == n:
                self._hop()
                self._fill = 0
                hops += 1
        return hops

    def _hop(self) -> None:
        n = self.frame
        ref, mic = self._ref, self._mic
        # adapt only bins the reference really excites (Smaart's magnitude threshold)
        # per-bin step: full where the programme dominates the mic, smaller where the crowd does
        # (adaptation noise grows with the noise the model cannot explain)
        share = self._syy / np.maximum(self._syy + self._see, _FLOOR)
        step = self.config.adapt_step * np.maximum(share[self._model_to_bin], self.step_floor)
        _, _, e = self.model.process(ref, mic, step,
                                          min_norm=self._bin_floor * self.model.partitions,
                                          average=self._a_model)
        y = mic - e  # the averaged model's estimate: adaptation noise averaged out
        self.frames += 1
        # spectra of this hop
        yw = np.fft.rfft(y * self._win)
        dw = np.fft.rfft(mic * self._win)
        ew = np.fft.rfft(e * self._win)
        a = self._a_avg
        pyy = yw.real ** 2 + yw.imag ** 2
        pdd = dw.real ** 2 + dw.imag ** 2
        pee = ew.real ** 2 + ew.imag ** 2
        self._syy += a * (pyy - self._syy)
        self._sdd += a * (pdd - self._sdd)
        self._syd += a * (yw * np.conj(dw) - self._syd)
        self._see += a * (pee - self._see)
        # band powers of the residual and of the model's estimate
        be = self._bucket_m @ pee * self._scale
        by = self._bucket_m @ pyy * self._scale
        a_c = self._a_avg
        self._crowd_band += a_c * (be - self._crowd_band)
        self._music_band += a_c * (by - self._music_band)
        self._mic_pow += a_c * (float(np.mean(mic * mic)) - self._mic_pow)
        self._res_pow += a_c * (float(np.mean(e * e)) - self._res_pow)
        # delay finder on the last seconds
        self._ref_hist[:-n] = self._ref_hist[n:]
        self._ref_hist[-n:] = ref
        self._mic_hist[:-n] = self._mic_hist[n:]
        self._mic_hist[-n:] = mic
        if self.frames % self._delay_every == 0 and self.frames * n >= self._hist_len:
            self._find_delay()
        self.crowd.push(self.model, ref, mic)

    def _find_delay(self) -> None:
        max_lag = int(self.config.max_delay_ms * 1e-3 * self.sample_rate_hz)
        if np.mean(self._ref_hist ** 2) < 10 ** (self.config.ref_floor_db / 10):
            return
        lag, ratio = gcc_phat(self._ref_hist, self._mic_hist, max_lag)
        self.delay_confidence = ratio
        if ratio < 8.0:
            return
        if lag == self._delay_candidate and lag != self.delay_samples:
            self.seed_delay(lag, f"confidence {ratio:.0f}")
        self._delay_candidate = lag

    def seed_delay(self, delay_samples: int, why: str = "room profile") -> None:
        """Place the room model at a known delay (from the soundcheck, or the delay finder).

        Parameters
        ----------
        delay_samples : int
            Reference → mic delay (I/O + acoustic), samples at :attr:`sample_rate_hz`.
        why : str
            Where it came from, for the log.
        """
        lag = int(delay_samples)
        margin = int(0.01 * self.sample_rate_hz)  # keep 10 ms before the direct sound
        offset = max(0, (lag - margin) // self.frame)
        if offset != self.model.offset:
            self.model.set_offset(offset)
            log.info("room delay %.1f ms (%s): model starts at %.1f ms",
                     1e3 * lag / self.sample_rate_hz, why,
                     1e3 * self.model.offset * self.frame / self.sample_rate_hz)
        self.delay_samples = lag
        self._delay_candidate = lag

    # -- results ---------------------------------------------------------------------------------
    @property
    def seconds(self) -> float:
        """Programme time analysed so far."""
        return self.frames * self.frame / self.sample_rate_hz

    def response_db(self) -> np.ndarray:
        """⅓-octave magnitude of the model, dB, on :attr:`freqs_hz` (cached per hop)."""
        if self._resp_cache is not None and self._resp_cache[0] == self.frames:
            return self._resp_cache[1]
        h = self.model.impulse_response(averaged=True)
        nfft = 1 << int(math.ceil(math.log2(max(h.size, 2 * self.frame))))
        spec = np.fft.rfft(h, nfft)
        if self._resp_bands is None:
            f = np.fft.rfftfreq(nfft, 1.0 / self.sample_rate_hz)
            self._resp_bands = band_matrix(f, self.freqs_hz)
        p = self._resp_bands @ (spec.real ** 2 + spec.imag ** 2)
        r = _db(p)
        self._resp_cache = (self.frames, r)
        return r

    def impulse_response(self) -> tuple[np.ndarray, int]:
        """The model's taps and the lag of the first one, samples."""
        return self.model.impulse_response(averaged=True), self.model.offset * self.frame

    def coherence(self) -> np.ndarray:
        """Mean magnitude-squared coherence of ``ŷ`` and the mic in each band, 0..1."""
        msc = np.abs(self._syd) ** 2 / np.maximum(self._syy * self._sdd, _FLOOR ** 2)
        return np.clip(self._bands @ np.minimum(msc, 1.0), 0.0, 1.0)

    def crowd_band_power(self) -> np.ndarray:
        """Crowd power per band at the mic (mean square).

        Per band, the model's residual (current, averaged over ``average_s``) where it is the
        crowd, and the snapshot regression's level (:class:`liveai.mixer.crowd.CrowdRegression`,
        a few seconds old) + 2 dB where the residual is mostly programme echo; after a room
        change, the exact fit of the new room's level (current: no 2 dB) until the
        regression has frames of the new room. Until the regression has its first frames
        (11 s into the programme), the residual alone, which reads high in a reverberant hall
        (see :attr:`crowd_valid`).
        """
        if self.crowd.valid:
            # the residual where it is the crowd (it is current and averaged as the other
            # levels are); the regression where the residual is mostly programme echo
            # (the bridge's level after a room change is current: no slack)
            slack = 1.0 if self.crowd.current else _CROWD_SLACK
            return np.minimum(self._crowd_band, self.crowd.band_power * slack)
        return self._crowd_band.copy()

    @property
    def crowd_valid(self) -> bool:
        """True once the crowd level comes from the regression (before: the residual, high)."""
        return bool(self.crowd.valid)

    def crowd_band_db(self) -> np.ndarray:
        """Crowd level per band at the mic, dBFS (mean square of that band's share)."""
        return _db(self.crowd_band_power())

    def crowd_level_db(self) -> float:
        """Overall crowd level at the mic, dBFS."""
        return float(_db(np.sum(self.crowd_band_power())))

    def residual_level_db(self) -> float:
        """Power of the whole residual ``mic - ŷ``, dBFS (the crowd plus unexplained echo)."""
        return float(_db(self._res_pow))

    def music_level_db(self) -> float:
        """Level of the programme at the mic as the model explains it, dBFS."""
        return float(_db(np.sum(self._music_band)))

    def mic_level_db(self) -> float:
        """Level of the whole mic signal, dBFS."""
        return float(_db(self._mic_pow))

    def erle_db(self) -> float:
        """Mic power over residual power, dB (how much of the mic the model explains)."""
        return float(_db(self._mic_pow) - _db(self._res_pow))
