"""Onsets (overall and per band), tempo, beats and bars, causally, one hop at a time."""

from __future__ import annotations

import math

import numpy as np

from liveai.dsp import levels as lv
from liveai.dsp import rhythm as k

#: Onset bands: overall, then low (kick), mid (snare body), high (hats); Hz.
ONSET_BANDS_HZ = ((30.0, 16000.0), (30.0, 150.0), (150.0, 2500.0), (5000.0, 16000.0))
#: Beats start firing when the smoothed tempo confidence rises above BEATS_ON_CONFIDENCE and
#: stop when it falls below BEATS_OFF_CONFIDENCE (silence, noise): the tracker keeps time anyway.
BEATS_ON_CONFIDENCE = 0.4
#: Weight of "a pulse at half this period" against a tempo candidate (octave errors).
HALF_PERIOD_PENALTY = 0.2
#: Consecutive tempo estimates (about 0.1 s apart) a new tempo must win before it is adopted.
TEMPO_SWITCH_ESTIMATES = 5
#: ... and this many times as many when the new tempo is metrically related to the current one.
OCTAVE_SWITCH_FACTOR = 16
RELATED_RATIOS = (2.0, 0.5, 1.5, 2.0 / 3.0, 4.0 / 3.0, 0.75)
BEATS_OFF_CONFIDENCE = 0.2


def onset_window(n: int) -> np.ndarray:
    """A window that leans on the newest samples, so a hit shows in the hop it arrives.

    A Hann window hides the last samples of a frame (its tail is near 0), which delays onsets
    by about a quarter window. This one rises over the first 3/4 and falls over the last 1/4:
    still smooth at both ends (no leakage from a hard edge), with its weight near "now".
    """
    a = (3 * n) // 4
    b = n - a
    return np.concatenate([np.hanning(2 * a + 1)[:a], np.hanning(2 * b + 1)[b : 2 * b]])


class OnsetDetector:
    """Spectral-flux onsets with adaptive thresholds, reported in the hop they happen.

    The flux comes from its own short FFT (1024 samples, or two hops for long hops) over the newest
    samples with :func:`onset_window`: a hit is reported at the end of the hop that contains
    it, or, when it arrives in the last few milliseconds of a hop, at the end of the next one.

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

    Attributes
    ----------
    latency_samples : int
        The longest delay from a hit to the end of the hop that reports it: two hops.
    odf : np.ndarray, shape (4,)
        This hop's detection function (overall, low, mid, high).
    """

    def __init__(self, sample_rate_hz: int, n_fft: int, hop_length: int,
                 threshold_s: float = 1.5, k_dev: float = 2.0, refractory_ms: float = 60.0,
                 floor: float = 0.02, min_rel: float = 0.2, peak_s: float = 4.0) -> None:
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
        self._mean = np.zeros(4)
        self._dev = np.zeros(4)
        self._prev = np.zeros(4)
        self._since = np.zeros(4)
        self._peak = np.zeros(4)
        self._peak_decay = math.exp(-hop_length / (sample_rate_hz * peak_s))
        self._min_rel = float(min_rel)
        self._onset = np.zeros(4, dtype=np.int64)
        self._strength = np.zeros(4, dtype=np.float32)
        self._decay = math.exp(-hop_length / (sample_rate_hz * threshold_s))
        self._k_dev = float(k_dev)
        self._floor = float(floor)
        self._refractory = math.ceil(refractory_ms * 1e-3 * sample_rate_hz / hop_length)
        self.counts = np.zeros(4, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        """Forget all history."""
        for a in (self._prev_log, self.odf, self._mean, self._dev, self._prev, self._peak):
            a[:] = 0.0
        self._since[:] = 1e9
        self.counts[:] = 0
        self._frames = 0

    def process(self, history: np.ndarray, frame: np.ndarray) -> None:
        """Update from the newest samples; write the onset fields of ``frame``.

        Parameters
        ----------
        history : np.ndarray, shape (>= n_fft,), float64
            Mono input, newest sample last (the level analyser's buffer).
        """
        lv.apply_window(history[-self.n_fft :], self._window, self._windowed)
        np.fft.rfft(self._windowed, out=self._spec)
        k.band_flux(self._spec, self._amp_scale, self._prev_log, self._lo, self._hi, self.odf)
        self._frames += 1
        # Until the running statistics have a full memory they use a short, growing one (as if
        # 15 quiet frames came first): starting them at a 1.5 s memory of zeros would make
        # steady noise fire every refractory period.
        decay = min(self._decay, 1.0 - 1.0 / (self._frames + 15))
        k.pick_onsets(self.odf, self._mean, self._dev, self._prev, self._since, self._peak,
                      decay, self._peak_decay, self._k_dev, self._floor, self._min_rel,
                      float(self._refractory), self._onset, self._strength)
        self.counts += self._onset
        frame["onset_strength"] = self._strength[0]
        frame["onset_count"] = self.counts[0]
        frame["band_onset_strength"] = self._strength[1:]
        frame["band_onset_count"] = self.counts[1:]

    @property
    def fired(self) -> np.ndarray:
        """1 per channel where an onset fired in the last hop (overall, low, mid, high)."""
        return self._onset


class BeatTracker:
    """Causal tempo, beats (predicted one beat ahead) and bars.

    Tempo: comb-filtered autocorrelation of the last ``window_s`` of the onset envelope with a
    log-Gaussian prior around 120 BPM, smoothed, switching only when a new tempo persists.
    Beats: a cumulative score (each frame's onset value plus the best score one beat period
    back); half-way through each beat the score is projected one period ahead to predict the
    next beat, which fires when its hop arrives — the same moment a live show sees it.
    Bars: the beat position (of 4) where the low band hits hardest is the downbeat.

    Parameters
    ----------
    sample_rate_hz : int
    hop_length : int
    bpm_range : (float, float)
    window_s : float
        Envelope memory for the tempo estimate.
    """

    latency_samples = 0

    def __init__(self, sample_rate_hz: int, hop_length: int,
                 bpm_range: tuple[float, float] = (60.0, 200.0), window_s: float = 6.0,
                 prior_bpm: float = 120.0, prior_octaves: float = 1.0,
                 beats_per_bar: int = 4) -> None:
        self.fps = sample_rate_hz / hop_length  # [samples/s] / [samples/frame]
        self.hop_s = hop_length / sample_rate_hz
        self.bpm_range = (float(bpm_range[0]), float(bpm_range[1]))
        self.lag_min = max(2.0, self.fps * 60.0 / bpm_range[1])  # frames per beat
        self.lag_max = self.fps * 60.0 / bpm_range[0]
        self.lag_step = 0.25
        n_lags = int((self.lag_max - self.lag_min) / self.lag_step) + 1
        self._prior_bpm = float(prior_bpm)
        self._prior_octaves = float(prior_octaves)
        self._n_harm = 4
        self.half_penalty = HALF_PERIOD_PENALTY
        self._scores = np.zeros(n_lags)
        n_env = max(int(window_s * self.fps), int(self._n_harm * self.lag_max) + 2)
        self._env = np.zeros(n_env)
        self._smooth = np.zeros(n_env)
        self._acf = np.zeros(int(self._n_harm * self.lag_max) + 3)
        self._cscore = np.zeros(int(2 * self.lag_max) + 2)
        self._future = np.zeros(int(3 * self.lag_max) + 2)
        self.beats_per_bar = int(beats_per_bar)
        self._bar_energy = np.zeros(self.beats_per_bar)
        self._alpha = 0.9
        self._tightness = 5.0
        self.tempo_every = max(1, int(round(0.1 * self.fps)))  # re-estimate every ~100 ms
        self.reset()

    def reset(self) -> None:
        """Forget all history."""
        self._env[:] = 0.0
        self._cscore[:] = 0.0
        self._bar_energy[:] = 0.0
        self.frames = 0
        self.period = 0.0  # frames per beat; 0 = no tempo yet
        self.confidence = 0.0
        self.beating = False
        self._candidate = 0.0
        self._candidate_hits = 0
        self.since_beat = 0
        self.next_beat_at = 0.0  # frames after the last beat
        self.predicted = False
        self.beat_count = 0
        self.bar_count = 0
        self.beat_in_bar = -1  # unknown until the downbeat is found
        self._downbeat_pos = -1  # beat position (mod beats_per_bar) of the downbeat; -1 unknown
        self._low_recent = 0.0
        self._credit_pos = 0
        self._credit_max = 0.0
        self._credit_left = 0
        self._taps: list[int] = []  # hop numbers of the last taps
        self._hold_frames = 0  # a tapped tempo holds (beats fire, no switch) this many hops

    # -- the performer's hands -----------------------------------------------------------------
    def tap(self) -> None:
        """A tap on the beat, now. Three or more taps set the tempo and the phase.

        Taps more than 2 s apart start a new series. A tapped tempo holds for 16 beats: beats
        fire even where the music gives no pulse (a breakdown, rubato), and the automatic
        estimate may not switch away during that time.
        """
        if self._taps and self.frames - self._taps[-1] > 2.0 * self.fps:
            self._taps.clear()
        self._taps.append(self.frames)
        del self._taps[:-8]
        if len(self._taps) < 3:
            return
        period = float(np.median(np.diff(self._taps)))
        if not self.lag_min <= period <= self.lag_max:
            return
        if not self.period or abs(period - self.period) / self.period > 0.02:
            self._switch_period(period)
        # The tap is a beat in the hop about to be processed (which counts it as 0 beats ago);
        # the next one is a period later.
        self.since_beat = -1
        self.next_beat_at = self.period
        self.predicted = True
        self.confidence = max(self.confidence, BEATS_ON_CONFIDENCE)
        self.beating = True
        self._hold_frames = int(16 * self.period)

    def nudge(self, ms: float) -> None:
        """Move the beat grid later (ms > 0) or earlier (ms < 0) by ``ms`` milliseconds."""
        self.since_beat -= int(round(ms / 1000.0 * self.fps))  # [s] * [hops/s]

    def resync(self) -> None:
        """The next beat is the first of a bar (the downbeat), from now on."""
        n = self.beats_per_bar
        nxt = (self.beat_count + 1) % n
        self._downbeat_pos = nxt
        top = float(np.max(self._bar_energy))
        self._bar_energy[:] = 0.0
        self._bar_energy[nxt] = max(top, 1e-3) * 4.0  # the automatic guess must earn it back

    # -- tempo ---------------------------------------------------------------------------------
    def _estimate_tempo(self) -> None:
        # Only the part of the window that has been filled: leading zeros would look periodic.
        n = min(self.frames, self._env.shape[0])
        k.comb_acf(self._env[-n:], self._smooth[-n:], self._acf, self.lag_min, self.lag_max,
                   self.lag_step, self._n_harm, self.fps, self._prior_bpm, self._prior_octaves,
                   self.half_penalty, self._scores)
        s = self._scores
        i = int(np.argmax(s))
        peak = s[i]
        energy = self._acf[0]
        if peak <= 0 or energy <= 1e-12:  # silence or no periodicity: let the beat fade
            if self._hold_frames > 0:
                return  # unless the performer tapped a tempo
            self.confidence *= 0.8
            self._update_beating()
            return
        lag = self.lag_min + i * self.lag_step
        if 0 < i < s.shape[0] - 1:  # parabolic interpolation between grid points
            den = s[i - 1] - 2 * peak + s[i + 1]
            if den < 0:
                lag += 0.5 * self.lag_step * (s[i - 1] - s[i + 1]) / den
        lag = min(max(lag, self.lag_min), self.lag_max)
        # Pulse clarity: how far the best period stands above the average period, relative to
        # the envelope's energy. Near 0 for noise and for slow swells (every lag alike).
        clarity = float(min(1.0, max(0.0, (peak - np.mean(s)) / energy)))
        clarity *= n / self._env.shape[0]  # a young window earns less trust: no beats in noise
        self.confidence += 0.1 * (clarity - self.confidence)  # about one second of memory
        if self._hold_frames > 0:  # a tapped tempo: keep beating, keep the tempo
            self.confidence = max(self.confidence, BEATS_ON_CONFIDENCE)
            self._update_beating()
            return
        self._update_beating()
        if self.period == 0.0:
            self._switch_period(lag)
        elif abs(lag - self.period) / self.period < 0.04:
            self.period = 0.8 * self.period + 0.2 * lag
            self._candidate_hits = 0
        elif self._candidate and abs(lag - self._candidate) / self._candidate < 0.04:
            self._candidate_hits += 1
            ratio = lag / self.period
            related = any(abs(ratio / r - 1.0) < 0.04 for r in RELATED_RATIOS)
            # A jump to double/half time (or 3:2, 4:3) is usually the music thinning out (a
            # breakdown with pads on the bar), not a new tempo: it has to hold much longer.
            needed = TEMPO_SWITCH_ESTIMATES * (OCTAVE_SWITCH_FACTOR if related else 1)
            if self.confidence < BEATS_ON_CONFIDENCE and self.period:
                self._candidate_hits -= 1  # unsure of anything: don't let a candidate win
            if self._candidate_hits >= needed:
                self._switch_period(lag)
                self._candidate_hits = 0
        else:
            self._candidate = lag
            self._candidate_hits = 1

    def _switch_period(self, period: float) -> None:
        """Adopt a new beat period and rebuild the cumulative score for it.

        Replaying the envelope at the new period locks the phase at once instead of after
        several beats scored at the old period.
        """
        self.period = period
        self._cscore[:] = 0.0
        # Every hop so far but this one, which process() adds next.
        n = min(self.frames, self._env.shape[0])
        for value in self._env[-n:-1]:
            k.cumulative_score(self._cscore, float(value), period, self._alpha, self._tightness)
        self.predicted = False  # re-predict from the rebuilt score

    def _update_beating(self) -> None:
        if self.confidence >= BEATS_ON_CONFIDENCE:
            self.beating = True
        elif self.confidence < BEATS_OFF_CONFIDENCE:
            self.beating = False

    @property
    def tempo_bpm(self) -> float:
        """Current tempo estimate (0 before the first estimate)."""
        return 60.0 * self.fps / self.period if self.period else 0.0

    # -- per hop -------------------------------------------------------------------------------
    def process(self, onset_value: float, low_value: float, frame: np.ndarray) -> bool:
        """Advance one hop; write the tempo/beat/bar fields of ``frame``.

        Parameters
        ----------
        onset_value : float
            This hop's overall onset detection function.
        low_value : float
            This hop's low-band detection function (for downbeats).

        Returns
        -------
        bool
            True when a beat fires in this hop.
        """
        k.push(self._env, onset_value)
        self.frames += 1
        if self._hold_frames > 0:
            self._hold_frames -= 1
        self._low_recent = max(0.8 * self._low_recent, low_value)
        if self._credit_left > 0:  # the kick of the last beat may land just after it fired
            self._credit_max = max(self._credit_max, low_value)
            self._credit_left -= 1
            if self._credit_left == 0:
                self._credit_bar()
        if self.frames % self.tempo_every == 0 and self.frames >= 2 * self.fps:
            self._estimate_tempo()
        beat = False
        if self.period:
            k.cumulative_score(self._cscore, onset_value, self.period, self._alpha,
                               self._tightness)
            self.since_beat += 1
            if not self.predicted and self.since_beat >= round(self.period / 2):
                ahead = k.predict_next_beat(self._cscore, self._future, self.period,
                                            self._alpha, self._tightness,
                                            self.period - self.since_beat)
                self.next_beat_at = self.since_beat + ahead
                self.predicted = True
            if not self.predicted:
                self.next_beat_at = self.period
            if self.since_beat >= self.next_beat_at:
                if self.beating:
                    beat = True
                    self._on_beat()
                else:  # silence or noise: keep time, fire nothing
                    self.since_beat = 0
                    self.predicted = False
                    self.next_beat_at = self.period
        frame["tempo_bpm"] = self.tempo_bpm
        frame["tempo_confidence"] = self.confidence
        frame["beat_count"] = self.beat_count
        frame["bar_count"] = self.bar_count
        frame["beat_in_bar"] = self.beat_in_bar
        span = max(self.next_beat_at, 1.0)
        phase = min(self.since_beat / span, 1.0) if self.period else 0.0
        frame["beat_phase"] = phase
        frame["bar_phase"] = ((self.beat_in_bar + phase) / self.beats_per_bar
                              if self.beat_in_bar >= 0 else 0.0)
        frame["next_beat_s"] = max(self.next_beat_at - self.since_beat, 0.0) * self.hop_s
        return beat

    def _credit_bar(self) -> None:
        self._bar_energy *= 0.98
        self._bar_energy[self._credit_pos] += self._credit_max
        self._credit_left = 0

    def _on_beat(self) -> None:
        self.beat_count += 1
        self.since_beat = 0
        self.predicted = False
        self.next_beat_at = self.period
        # Downbeat: the position in the bar where the low band (the kick) is strongest, chosen
        # after two bars of evidence and changed only when another position clearly wins. Each
        # beat's low-band peak within a quarter beat either side is credited to its position.
        n = self.beats_per_bar
        pos = self.beat_count % n
        if self._credit_left > 0:
            self._credit_bar()
        self._credit_pos = pos
        self._credit_max = self._low_recent
        self._credit_left = max(1, round(self.period / 4))
        best = int(np.argmax(self._bar_energy))
        if self._downbeat_pos < 0:
            if self.beat_count >= 2 * n:
                self._downbeat_pos = best
        elif best != self._downbeat_pos and (
                self._bar_energy[best] > 1.25 * self._bar_energy[self._downbeat_pos]):
            self._downbeat_pos = best
        if self._downbeat_pos < 0:
            return
        previous = self.beat_in_bar
        self.beat_in_bar = (pos - self._downbeat_pos) % n
        # A bar starts when the count wraps, not whenever the downbeat guess moves.
        if self.beat_in_bar == 0 and previous != 0:
            self.bar_count += 1
