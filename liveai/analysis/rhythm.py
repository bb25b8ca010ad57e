"""Tempo, beats and bars, causally, one hop at a time (onsets: :mod:`liveai.analysis.onsets`)."""

from __future__ import annotations

import math

import numpy as np

from liveai.analysis.level import CANDIDATES, LevelChooser, contrast, scores

# Onsets and the rhythm detection function live in liveai.analysis.onsets (re-exported here).
from liveai.analysis.onsets import (  # noqa: F401
    ONSET_BANDS_HZ,
    RHYTHM_LOW_HZ,
    RHYTHM_LOW_WEIGHT,
    OnsetDetector,
    onset_window,
)
from liveai.dsp import beatstate as bs

#: Beats start firing when the smoothed tempo confidence rises above BEATS_ON_CONFIDENCE and
#: stop when it falls below BEATS_OFF_CONFIDENCE (silence, noise): the tracker keeps time anyway.
BEATS_ON_CONFIDENCE = 0.4
BEATS_OFF_CONFIDENCE = 0.2
#: Beat-pointer HMM: tempo change penalty at each beat, and 1 / (fraction of a beat that is
#: its beat region).
TRANSITION_LAMBDA = 100.0
OBS_LAMBDA = 16.0
#: Tempo prior: log-Gaussian around TEMPO_PRIOR_BPM, applied every hop (per second: weight
#: exp(-TEMPO_PRIOR_PER_S * z^2), z in TEMPO_PRIOR_OCTAVES). Off: on the groove corpus it did
#: not move an octave choice until it was strong enough to break others.
TEMPO_PRIOR_BPM = 100.0
TEMPO_PRIOR_OCTAVES = 1.0
TEMPO_PRIOR_PER_S = 0.0
#: Probability spread uniformly over every state each hop (recovers from a wrong lock).
STATE_FLOOR = 1e-6
#: Activation: memory of the local mean subtracted from the detection function, its weight, and
#: memory of the peak it is divided by; seconds.
ACT_MEAN_S = 0.2
ACT_MEAN_WEIGHT = 1.0
ACT_PEAK_S = 3.0
#: ... and the power it is raised to (2 or 3 make it sparser; measured worse on the corpus).
ACT_POWER = 1.0
#: Confidence: the lift, how much more activation there is where the model predicted a beat
#: (before seeing the hop) than on average, over the last CONFIDENCE_S seconds. 1 means the
#: predictions know nothing (noise); LIFT_FULL is full confidence. LIFT_FLOOR is added to the
#: mean activation so that silence has no lift at all.
CONFIDENCE_S = 2.0
LIFT_FULL = 2.5
LIFT_FLOOR = 0.02
#: Smoothing of the reported beat period (per hop), and the number of beats whose mean
#: interval it follows.
PERIOD_SMOOTHING = 0.05
IBI_BEATS = 8
#: Metre: the 3-beat cycle must stand out this much (and this many times more than the 4-beat
#: cycle) to switch to 3 beats per bar.
METER_MIN_CONTRAST = 0.5
METER_RATIO = 1.5
#: Breakdowns: below this confidence, while the music plays on (mean activation at least
#: COAST_MIN_ACTIVITY, or the hop at least COAST_MIN_DB dBFS: pads have few onsets), a
#: confident beat holds its tempo and phase for up to COAST_BEATS beats.
COAST_BELOW = 0.2
COAST_MIN_ACTIVITY = 0.01
COAST_MIN_DB = -55.0
COAST_BEATS = 32.0
COAST_ARM_BEATS = 8.0
COAST_STEADY = 0.03
#: A coast ends when the pulse is back: the confidence at least COAST_END_CONFIDENCE for a
#: beat and the mean activation back to COAST_BACK_ACTIVITY of the groove's before the
#: breakdown (a sparse piano on the breakdown's downbeats is confident, not dense).
COAST_END_CONFIDENCE = 0.8
COAST_BACK_ACTIVITY = 0.7
#: The grid a breakdown holds is fitted through the steady beats before it, leaving out the
#: last ANCHOR_SKIP (where the pulse may already be fading).
ANCHOR_SKIP = 3
#: Metrical level (:mod:`liveai.analysis.level`): a change of the reported pulse level (the
#: model's, half or double it) must win LEVEL_HOLD of the model's beats in a row, unless the
#: level reported now left the tempo range; the first choice is taken once 8 beats are in.
LEVEL_HOLD = 4
#: The level model's log-odds are averaged over the model's beats with this weight on the
#: newest; a change needs its average to lead the reported level's by LEVEL_MARGIN.
LEVEL_SMOOTHING = 0.3
LEVEL_MARGIN = 1.0


class BeatTracker:
    """Causal tempo, beats (predicted ahead), bars and metre from a rhythm detection function.

    A beat-pointer hidden Markov model (tempo × position in the beat, Krebs, Böck & Widmer
    2015) is filtered forward one hop at a time, as madmom's online DBN beat tracker does: the
    detection function, normalised to 0..1 by its recent peak after subtracting its local mean,
    is the observation; a beat fires in the hop where the most probable state reaches the
    start of a beat, and the same state says when the next beat is due.

    Confidence: the lift, how much more activation arrives where the model predicted a beat
    (before it saw the hop) than on average, over about two seconds. Predictions know nothing
    about noise (lift 1); periodic onsets raise it, in a reverberant room too; silence has none.
    A confident, steady beat that loses its pulse while the music plays on (a breakdown) keeps
    its tempo and phase for a while (:meth:`_coast`).

    An external clock (:meth:`follow_external`) takes over tempo, beats and bars while it runs.

    Bars: the low band (kick, bass) at each beat is credited to its position in cycles of 3 and
    of 4 beats; the metre whose cycle stands out the most wins (4 unless 3 clearly does), and
    its strongest position is the downbeat.

    Parameters
    ----------
    sample_rate_hz : int
    hop_length : int
    bpm_range : (float, float)
    beats_per_bar : int
        The metre before the music says otherwise (3 or 4).
    transition_lambda : float, optional
        How hard a tempo change is at each beat: ``exp(-lambda * |ratio - 1|)``; default
        TRANSITION_LAMBDA.
    obs_lambda : float, optional
        The beat region is ``1 / obs_lambda`` of a beat; default OBS_LAMBDA.
    choose_level : bool, optional
        Report the pulse level people tap (:mod:`liveai.analysis.level`): the model's, half
        or double it. False reports the model's own (the level model's training does).
    """

    latency_samples = 0

    def __init__(self, sample_rate_hz: int, hop_length: int,
                 bpm_range: tuple[float, float] = (60.0, 200.0), beats_per_bar: int = 4,
                 transition_lambda: float | None = None,
                 obs_lambda: float | None = None, choose_level: bool = True) -> None:
        transition_lambda = TRANSITION_LAMBDA if transition_lambda is None else transition_lambda
        obs_lambda = OBS_LAMBDA if obs_lambda is None else obs_lambda
        self.fps = sample_rate_hz / hop_length  # [samples/s] / [samples/frame]
        self.hop_s = hop_length / sample_rate_hz
        self.bpm_range = (float(bpm_range[0]), float(bpm_range[1]))
        self.lag_min = max(2.0, self.fps * 60.0 / bpm_range[1])  # frames per beat
        self.lag_max = self.fps * 60.0 / bpm_range[0]
        # One interval beyond each end, so that the ends of the range are inside it.
        n_min = max(2, int(math.floor(self.lag_min)) - 1)
        n_max = max(n_min, int(math.ceil(self.lag_max)) + 1)
        self._intervals = np.arange(n_min, n_max + 1, dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(self._intervals)[:-1]]).astype(np.int64)
        self._beat_len = np.maximum(1, np.round(self._intervals / obs_lambda)).astype(np.int64)
        n_states = int(np.sum(self._intervals))
        self._obs_lambda = float(obs_lambda)
        self._tm = np.zeros((self._intervals.size, self._intervals.size))
        bs.transition_matrix(self._intervals.astype(np.float64), float(transition_lambda),
                             self._tm)
        self._alpha = np.zeros(n_states)
        bpm = 60.0 * self.fps / self._intervals  # [frames/s] * [s/min] / [frames/beat]
        z = np.log2(bpm / TEMPO_PRIOR_BPM) / TEMPO_PRIOR_OCTAVES
        self._tempo_weight = np.exp(-TEMPO_PRIOR_PER_S / self.fps * z * z)
        self._pred = np.zeros(n_states)
        self._scratch = np.zeros(int(n_max))
        self._marg = np.zeros(self._intervals.size)
        self._info = np.zeros(7)
        self._beat_frames = np.zeros(IBI_BEATS + 1)  # hop numbers of the last beats
        self.choose_level = bool(choose_level)
        self._levels = LevelChooser()
        #: Set to a list to record (hop, model BPM, slot, candidate features) at each choice.
        self.level_log: list | None = None
        self._default_bpb = int(beats_per_bar)
        self._meter_energy = {3: np.zeros(3), 4: np.zeros(4)}
        self._mean_decay = math.exp(-1.0 / (ACT_MEAN_S * self.fps))
        self._peak_decay = math.exp(-1.0 / (ACT_PEAK_S * self.fps))
        self._conf_rate = 1.0 - math.exp(-1.0 / (CONFIDENCE_S * self.fps))
        self.reset()

    def reset(self) -> None:
        """Forget all history."""
        self._alpha[:] = 1.0 / self._alpha.size
        for e in self._meter_energy.values():
            e[:] = 0.0
        self.beats_per_bar = self._default_bpb
        self.frames = 0
        self.period = 0.0  # frames per beat; 0 = no tempo yet
        self.confidence = 0.0
        self._s_ab = self._s_a = self._s_b = self._s_w = 0.0
        self.lift = 0.0
        self.beating = False
        self.since_beat = 0
        self.next_beat_at = 0.0  # frames after the last beat
        self.predicted = False
        self.beat_count = 0
        self.bar_count = 0
        self.beat_in_bar = -1  # unknown until the downbeat is found
        self._downbeat_pos = -1  # beat position (mod beats_per_bar) of the downbeat; -1 unknown
        self._last_frac = 0.0
        self._beat_frames[:] = 0.0
        self._n_beat_frames = 0
        self._act_mean = 0.0
        self._act_peak = 0.0
        self.activation = 0.0
        self._low_recent = 0.0
        self._credit_pos = 0
        self._credit_max = 0.0
        self._credit_left = 0
        self._taps: list[int] = []  # hop numbers of the last taps
        self._hold_frames = 0  # a tapped tempo holds (beats fire, no switch) this many hops
        self._coast_frames = 0  # the beat holds through a breakdown this many more hops
        self._coast_armed = False
        self._confident_frames = 0
        self._anchor_frame = 0.0
        self._anchor_period = 0.0
        self._steady_frames = np.zeros(16)
        self._n_steady = 0
        self._anchor_activity = 0.0
        self._back_frames = 0
        self._steady_lo = self._steady_hi = 0.0
        self.external = False
        self._ext_bpm = 0.0
        self._ext_pos = 0.0
        self._ext_prev: float | None = None
        self._reset_level()

    def _reset_level(self, decided: bool = False) -> None:
        """Report the model's own pulse level and forget the accent histogram.

        ``decided``: the level is the performer's (a tap); a change must win LEVEL_HOLD times.
        """
        self.level = 1.0  # reported tempo / the model's tempo: 0.5, 1 or 2
        self._level_parity = 0  # at level 0.5, which of the model's beats (parity) are beats
        self._offbeat = False  # at level 1, the reported beats are the model's off-beats
        self._levels.reset()
        self._level_scores = None
        self._level_votes = 0
        self._level_vote = CANDIDATES[0]
        self._level_decided = decided
        self._hmm_slot = 0  # the model's beats, counted mod 8
        self._hmm_since = 0
        self._half_fired = True

    # -- the performer's hands -----------------------------------------------------------------
    def tap(self) -> None:
        """A tap on the beat, now. Three or more taps set the tempo and the phase.

        Taps more than 2 s apart start a new series. A tapped tempo holds for 16 beats: beats
        fire even where the music gives no pulse (a breakdown, rubato).
        """
        if self._taps and self.frames - self._taps[-1] > 2.0 * self.fps:
            self._taps.clear()
        self._taps.append(self.frames)
        del self._taps[:-8]
        if len(self._taps) < 3 or self.external:
            return
        period = float(np.median(np.diff(self._taps)))
        if not self.lag_min <= period <= self.lag_max:
            return
        # The tap is a beat in the hop about to be processed: one position before the start.
        bs.set_state(self._alpha, self._offsets, self._intervals, period, 1.0 - 1.0 / period,
                     0.01)
        self.period = period
        self._reset_level(decided=True)  # the taps say which pulse is the beat
        self._hmm_since = int(period)  # the model's beat is due in the next hop
        self.confidence = max(self.confidence, BEATS_ON_CONFIDENCE)
        self.beating = True
        self._hold_frames = int(16 * period)

    def nudge(self, ms: float) -> None:
        """Move the beat grid later (ms > 0) or earlier (ms < 0) by ``ms`` milliseconds."""
        frames = int(round(ms / 1000.0 * self.fps))  # [s] * [hops/s]
        if frames == 0:
            return
        self.since_beat -= frames
        # Later: every state's position moves back by that many hops.
        bs.shift_phase(self._alpha, self._scratch, self._offsets, self._intervals, frames)

    def resync(self) -> None:
        """The next beat is the first of a bar (the downbeat), from now on."""
        n = self.beats_per_bar
        nxt = (self.beat_count + 1) % n
        self._downbeat_pos = nxt
        e = self._meter_energy[n]
        top = float(np.max(e))
        e[:] = 0.0
        e[nxt] = max(top, 1e-3) * 4.0  # the automatic guess must earn it back

    # -- an external clock (Ableton Link, MIDI clock) ------------------------------------------
    def follow_external(self, tempo_bpm: float, beat_position: float) -> None:
        """Follow an external clock for the next hop instead of the audio.

        Call before :meth:`process` for each hop while the clock runs.

        Parameters
        ----------
        tempo_bpm : float
            The clock's tempo.
        beat_position : float
            The clock's beat position at the end of the hop about to be processed: beats since
            an arbitrary origin, fractional; integers are beats, multiples of
            ``beats_per_bar`` are downbeats.
        """
        if not (math.isfinite(tempo_bpm) and math.isfinite(beat_position)) or tempo_bpm <= 0:
            return
        if not self.external:
            self.external = True
            self._ext_prev = None
            self._reset_level(decided=True)
        self._ext_bpm = float(tempo_bpm)
        self._ext_pos = float(beat_position)

    def release_external(self) -> None:
        """Listen to the audio again, starting from the external clock's tempo and phase."""
        if not self.external:
            return
        self.external = False
        self._ext_prev = None
        if self.period:
            frac = (self.since_beat + 1.0) / self.period
            bs.set_state(self._alpha, self._offsets, self._intervals,
                         min(max(self.period, self.lag_min), self.lag_max), frac % 1.0, 0.01)
            # The model's own beat counters go on from the clock's last beat.
            self._hmm_since = self.since_beat
            self._last_frac = (frac - 1.0 / self.period) % 1.0
        n = self.beats_per_bar
        if self.beat_in_bar >= 0:
            self._downbeat_pos = (self.beat_count - self.beat_in_bar) % n
            e = self._meter_energy[n]
            top = float(np.max(e))
            e[:] = 0.0
            e[self._downbeat_pos] = max(top, 1e-3) * 4.0

    def _process_external(self, act: float) -> bool:
        pos, prev = self._ext_pos, self._ext_prev
        self._ext_prev = pos
        self.period = 60.0 * self.fps / self._ext_bpm  # [frames/s] * [s/min] / [beats/min]
        # How well the audio fits the clock's grid: the confidence the tracker starts from
        # when the clock goes away.
        in_beat = (pos - math.floor(pos)) * self.period < max(1.0, self.period / self._obs_lambda)
        self._update_lift(act, 1.0 if in_beat else 0.0)
        self.confidence = 1.0
        self.beating = True
        self.predicted = True
        whole = math.floor(pos)
        self.since_beat = int(round((pos - whole) * self.period))
        self.next_beat_at = self.period
        if prev is None or math.floor(prev) == whole:
            return False
        self.beat_count += 1
        n = self.beats_per_bar
        self.beat_in_bar = int(whole) % n
        self._downbeat_pos = (self.beat_count - self.beat_in_bar) % n
        if self.beat_in_bar == 0:
            self.bar_count += 1
        return True

    # -- per hop -------------------------------------------------------------------------------
    @property
    def tempo_bpm(self) -> float:
        """Current tempo estimate (0 before the first estimate)."""
        return 60.0 * self.fps * self.level / self.period if self.period else 0.0

    def _activation(self, value: float) -> float:
        """The detection value minus its local mean, relative to its recent peak: 0..1."""
        d = value - ACT_MEAN_WEIGHT * self._act_mean
        self._act_mean = self._mean_decay * self._act_mean + (1.0 - self._mean_decay) * value
        d = max(d, 0.0)
        self._act_peak = max(d, self._act_peak * self._peak_decay)
        if self._act_peak <= 1e-9:
            return 0.0
        return min(d / self._act_peak, 1.0) ** ACT_POWER

    def process(self, onset_value: float, low_value: float, frame: np.ndarray,
                mid_value: float = 0.0, high_value: float = 0.0) -> bool:
        """Advance one hop; write the tempo/beat/bar fields of ``frame``.

        Parameters
        ----------
        onset_value : float
            This hop's rhythm detection function.
        low_value : float
            This hop's low-band detection function (for downbeats and metre).
        mid_value, high_value : float, optional
            This hop's mid- and high-band onset detection functions (for the pulse level).

        Returns
        -------
        bool
            True when a beat fires in this hop.
        """
        self.frames += 1
        if self._hold_frames > 0:
            self._hold_frames -= 1
        act = self._activation(float(onset_value))
        self.activation = act
        self._low_recent = max(0.8 * self._low_recent, low_value)
        if self._credit_left > 0:  # the kick of the last beat may land just after it fired
            self._credit_max = max(self._credit_max, low_value)
            self._credit_left -= 1
            if self._credit_left == 0:
                self._credit_bar()
        if self.external:
            beat = self._process_external(act)
            self._write(frame)
            return beat
        info = self._info
        # A tapped tempo holds, and so does the beat through a breakdown: the pointer moves on
        # without listening.
        listening = self._hold_frames <= 0 and self._coast_frames <= 0
        bs.forward_step(self._alpha, self._pred, self._offsets, self._intervals, self._beat_len,
                        self._tm, self._tempo_weight, act if listening else -1.0,
                        self._obs_lambda, STATE_FLOOR, self._marg, info)
        w = self._update_lift(act, float(info[6]))
        if self._hold_frames > 0:
            self.confidence = max(self.confidence, BEATS_ON_CONFIDENCE)
        self._coast(self._s_a / w, float(frame["rms_db"]))
        if self.confidence >= BEATS_ON_CONFIDENCE:
            self.beating = True
        elif self.confidence < BEATS_OFF_CONFIDENCE and self._coast_frames <= 0:
            self.beating = False
        t, p = int(info[1]), int(info[2])
        n = int(self._intervals[t])
        target = self._beat_interval(n)
        if target <= 0.0:
            target = float(info[3])
        if (self._hold_frames > 0 or self._coast_frames > 0) and self.period:
            pass  # a tapped tempo holds, and so does a breakdown's
        elif self.period == 0.0 or self.frames < 8:
            self.period = target
        else:
            self.period += PERIOD_SMOOTHING * (target - self.period)
        if self._coast_frames > 0 and self._anchor_period:
            # A breakdown: the beat is the steady grid from before it, to the fraction of a hop.
            n = self._anchor_period
            p = (self.frames - self._anchor_frame) % n
        frac = p / n
        self.since_beat += 1
        self._hmm_since += 1
        # The model's beat: its pointer wrapped to the start of a beat.
        hmm_beat = frac < self._last_frac - 0.5 and self._hmm_since >= 0.5 * n
        self._last_frac = frac
        if hmm_beat:
            self._hmm_since = 0
            if self._confident_frames >= COAST_ARM_BEATS * self.period:
                self._steady_beat()
                self._anchor_activity = self._s_a / max(self._s_w, 1e-9)
            bf = self._beat_frames
            bf[:-1] = bf[1:]
            bf[-1] = self.frames
            self._n_beat_frames += 1
            self._levels.end_beat(self._hmm_slot)
            self._hmm_slot = (self._hmm_slot + 1) % 8
            self._half_fired = False
            self._choose_level(listening)
        self._levels.add(self._hmm_slot, frac, act, low_value, mid_value, high_value)
        # The reported beat: the model's, every other one of them, or those and the midpoints.
        half = int(n / 2 + 0.5)
        on_half = not self._half_fired and p >= half and not hmm_beat
        if on_half:
            self._half_fired = True
        if self.level == 2.0:
            fire = hmm_beat or on_half
        elif self.level == 0.5:
            fire = hmm_beat and (self._hmm_slot & 1) == self._level_parity
        else:
            fire = on_half if self._offbeat else hmm_beat
        beat = False
        if fire:
            if self.beating:
                beat = True
                self._on_beat()
            else:  # silence or noise: keep time, fire nothing
                self.since_beat = 0
        # When the next reported beat is due [hops from now].
        to_next = float(n - p if p else n)  # the model's next beat
        to_half = float(half - p if p < half else n - p + half)  # its next midpoint
        if self.level == 2.0:
            to_next = min(to_next, to_half)
        elif self.level == 0.5 and ((self._hmm_slot + 1) & 1) != self._level_parity:
            to_next += n
        elif self.level == 1.0 and self._offbeat:
            to_next = to_half
        self.next_beat_at = float(self.since_beat) + to_next
        self.predicted = True
        self._write(frame)
        return beat

    def _choose_level(self, listening: bool) -> None:
        """A beat of the model: choose the reported pulse level from the accents.

        The candidates (:data:`liveai.analysis.level.CANDIDATES`) inside the tempo range are
        scored by the level model; a change must win LEVEL_HOLD beats in a row, unless the
        level reported now left the range or nothing was chosen yet.
        """
        if (not listening or self.external or not self.beating or not self.period
                or not self._levels.ready or (not self.choose_level and self.level_log is None)):
            return
        bpm = 60.0 * self.fps / self.period
        rows, admitted = self._levels.features(bpm)
        if self.level_log is not None:
            self.level_log.append((self.frames, bpm, self._hmm_slot, rows, admitted))
        if not self.choose_level:
            return
        lo, hi = 0.95 * self.bpm_range[0], 1.05 * self.bpm_range[1]
        raw = scores(rows)
        if self._level_scores is None:
            self._level_scores = raw.copy()
        else:
            self._level_scores += LEVEL_SMOOTHING * (raw - self._level_scores)
        avg = self._level_scores
        now = self._level_now()
        best, best_s, now_s, now_in_range = now, -math.inf, -math.inf, False
        for r, cand in enumerate(CANDIDATES):
            if not lo <= cand[0] * bpm <= hi:
                continue
            if cand == now:
                now_in_range = True
                if admitted[r]:
                    now_s = avg[r]
            if admitted[r] and avg[r] > best_s:
                best, best_s = cand, avg[r]
        first = not self._level_decided
        self._level_decided = True
        if best == now or best_s < now_s + LEVEL_MARGIN:
            self._level_votes = 0
            return
        if best == self._level_vote:
            self._level_votes += 1
        else:
            self._level_vote = best
            self._level_votes = 1
        if first or not now_in_range or self._level_votes >= LEVEL_HOLD:
            self._set_level(*best)

    def _level_now(self) -> tuple[float, int, float]:
        """The reported level as a candidate: (ratio, parity, shift)."""
        if self.level == 0.5:
            return (0.5, self._level_parity, 0.0)
        if self.level == 2.0:
            return (2.0, -1, 0.0)
        return (1.0, -1, 0.5 if self._offbeat else 0.0)

    def _set_level(self, level: float, parity: int, shift: float) -> None:
        self.level = level
        self._level_parity = max(parity, 0)
        self._offbeat = shift > 0.0
        self._level_votes = 0
        self._half_fired = True  # no midpoint until the model's next beat
        self._forget_bars()

    def _forget_bars(self) -> None:
        """The beats moved: the bar positions counted so far mean nothing now."""
        for e in self._meter_energy.values():
            e[:] = 0.0
        self._downbeat_pos = -1
        self.beat_in_bar = -1

    def _beat_interval(self, n: int) -> float:
        """The mean interval of the last IBI_BEATS beats [hops], 0 if they disagree.

        The states' intervals are whole hops; the beats they fire average to the fraction in
        between (124 BPM at 86 hops/s is 41.7 hops, between the states 41 and 42).
        """
        if self._n_beat_frames <= IBI_BEATS:
            return 0.0
        bf = self._beat_frames
        lo = hi = bf[1] - bf[0]
        for i in range(1, IBI_BEATS):
            d = bf[i + 1] - bf[i]
            lo, hi = min(lo, d), max(hi, d)
        mean = (bf[-1] - bf[0]) / IBI_BEATS
        if hi > 1.15 * lo or abs(mean - n) > 0.1 * n:
            return 0.0
        return float(mean)

    def _update_lift(self, act: float, pb: float) -> float:
        """Update the lift and the confidence from this hop; return the averages' weight."""
        r = self._conf_rate
        self._s_ab += r * (act * pb - self._s_ab)
        self._s_a += r * (act - self._s_a)
        self._s_b += r * (pb - self._s_b)
        self._s_w += r * (1.0 - self._s_w)  # the weight the averages have so far (bias)
        w = self._s_w
        self.lift = (self._s_ab / w) / max((self._s_a / w + LIFT_FLOOR) * (self._s_b / w), 1e-12)
        # [activation where a beat was predicted] / [activation anywhere]: 1 when the
        # predictions know nothing about the audio (noise), well above in music. A young
        # average earns less trust.
        self.confidence = min(max((self.lift - 1.0) / (LIFT_FULL - 1.0), 0.0), 1.0) * w
        return w

    def _coast(self, activity: float, level_db: float = 0.0) -> None:
        """Keep the beat through a breakdown: the pulse fades while the music plays on.

        When a confident beat loses its confidence while there is still activity (pads, a
        sparse piano), the tracker stops listening and keeps the tempo and phase for up to
        COAST_BEATS beats, firing beats; a returning pulse that fits the grid, the coast's end
        or silence ends it. It is armed by COAST_ARM_BEATS confident beats in a row at a steady
        tempo (within COAST_STEADY): a rubato has no tempo to hold.
        """
        if self.confidence >= BEATS_ON_CONFIDENCE and self.period:
            if self._confident_frames == 0:
                self._steady_lo = self._steady_hi = self.period
            self._confident_frames += 1
            self._steady_lo = min(self._steady_lo, self.period)
            self._steady_hi = max(self._steady_hi, self.period)
            if self._steady_hi > (1.0 + COAST_STEADY) * self._steady_lo:  # not steady
                self._confident_frames = 0
            if self._confident_frames >= COAST_ARM_BEATS * self.period:
                self._coast_armed = True
        else:
            self._confident_frames = 0
        if self._coast_frames > 0:
            self._coast_frames -= 1
            playing = activity >= COAST_MIN_ACTIVITY or level_db >= COAST_MIN_DB
            # Back: a confident pulse for a whole beat, with the onsets as dense as in the
            # groove before (a piano on the breakdown's downbeats is confident, not dense).
            back = (self.confidence >= COAST_END_CONFIDENCE
                    and activity >= COAST_BACK_ACTIVITY * self._anchor_activity)
            self._back_frames = self._back_frames + 1 if back else 0
            if self._back_frames >= self.period or not playing:
                self._coast_frames = 0
            if self._anchor_period:
                # The model's states have whole-hop beat intervals: left alone it would hold
                # the nearest one (126.0 or 129.2 BPM for 128) and drift off the grid.
                self._restore_anchor()
        elif (self.beating and self._coast_armed and self._hold_frames <= 0 and self.period
              and self.confidence < COAST_BELOW
              and (activity >= COAST_MIN_ACTIVITY or level_db >= COAST_MIN_DB)):
            if self._anchor_period:
                self._restore_anchor()
            self._back_frames = 0
            self._coast_frames = int(COAST_BEATS * self.period)
            self._coast_armed = False

    def _steady_beat(self) -> None:
        """A steady, confident beat of the model: the grid a breakdown's coast will hold.

        The beats of the current steady stretch are kept; the grid is a line fitted through
        them, leaving out the last ANCHOR_SKIP (the pulse may already be fading there).
        """
        sb = self._steady_frames
        n = self._n_steady
        if n and abs(self.frames - sb[(n - 1) % sb.size] - self.period) > 0.25 * self.period:
            n = 0  # not the next beat of the same stretch: start again
        sb[n % sb.size] = self.frames
        n += 1
        self._n_steady = n
        use = min(n, sb.size) - ANCHOR_SKIP
        if use < 4:
            return
        k = np.arange(use, dtype=np.float64)
        f = np.array([sb[(n - min(n, sb.size) + i) % sb.size] for i in range(use)])
        slope, icpt = np.polyfit(k, f, 1)  # hops per beat, hop of the first beat
        self._anchor_period = float(slope)
        self._anchor_frame = float(icpt + slope * (use - 1))

    def _restore_anchor(self) -> None:
        """Go back to the last steady beat's tempo and phase, carried on to this hop.

        The model drifts as the pulse fades (it looks for another one in the pads); what the
        breakdown holds is the groove's beat from before it faded.
        """
        period = min(max(self._anchor_period, self.lag_min), self.lag_max)
        since = self.frames - self._anchor_frame  # hops since that beat
        frac = (since / period) % 1.0
        bs.set_state(self._alpha, self._offsets, self._intervals, period, frac, 0.01)
        self.period = period

    def _write(self, frame: np.ndarray) -> None:
        frame["tempo_bpm"] = self.tempo_bpm
        frame["tempo_confidence"] = self.confidence
        frame["beat_count"] = self.beat_count
        frame["bar_count"] = self.bar_count
        frame["beat_in_bar"] = self.beat_in_bar
        frame["beats_per_bar"] = self.beats_per_bar
        span = max(self.next_beat_at, 1.0)
        phase = min(max(self.since_beat, 0) / span, 1.0) if self.period else 0.0
        frame["beat_phase"] = phase
        frame["bar_phase"] = ((self.beat_in_bar + phase) / self.beats_per_bar
                              if self.beat_in_bar >= 0 else 0.0)
        frame["next_beat_s"] = max(self.next_beat_at - self.since_beat, 0.0) * self.hop_s

    def _credit_bar(self) -> None:
        for n, e in self._meter_energy.items():
            e *= 0.98
            e[self._credit_pos % n] += self._credit_max
        self._credit_left = 0

    def _choose_meter(self) -> None:
        c3, c4 = contrast(self._meter_energy[3]), contrast(self._meter_energy[4])
        n = self.beats_per_bar
        if n != 3 and c3 > METER_MIN_CONTRAST and c3 > METER_RATIO * c4:
            n = 3
        elif n != 4 and (c4 > c3 or c3 < 0.5 * METER_MIN_CONTRAST):
            n = 4
        if n != self.beats_per_bar:
            self.beats_per_bar = n
            self._downbeat_pos = -1
            self.beat_in_bar = -1

    def _on_beat(self) -> None:
        self.beat_count += 1
        self.since_beat = 0
        # Downbeat: the position in the bar where the low band (the kick) is strongest, chosen
        # after two bars of evidence and changed only when another position clearly wins. Each
        # beat's low-band peak within a quarter beat either side is credited to its position.
        if self._credit_left > 0:
            self._credit_bar()
        self._credit_pos = self.beat_count
        self._credit_max = self._low_recent
        self._credit_left = max(1, round(self.period / self.level / 4))
        if self.beat_count >= 12:
            self._choose_meter()
        n = self.beats_per_bar
        pos = self.beat_count % n
        e = self._meter_energy[n]
        best = int(np.argmax(e))
        if self._downbeat_pos < 0:
            if self.beat_count >= 2 * n:
                self._downbeat_pos = best
        elif best != self._downbeat_pos and e[best] > 1.25 * e[self._downbeat_pos]:
            self._downbeat_pos = best
        if self._downbeat_pos < 0:
            return
        previous = self.beat_in_bar
        self.beat_in_bar = (pos - self._downbeat_pos) % n
        # A bar starts when the count wraps, not whenever the downbeat guess moves.
        if self.beat_in_bar == 0 and previous != 0:
            self.bar_count += 1
