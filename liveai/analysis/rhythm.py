"""Tempo, beats and bars, causally, one hop at a time (onsets: :mod:`liveai.analysis.onsets`)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from liveai.analysis import level as lvl
from liveai.analysis.level import CANDIDATES, LevelChooser

# Onsets and the rhythm detection function live in liveai.analysis.onsets (re-exported here).
from liveai.analysis.onsets import (  # noqa: F401
    ONSET_BANDS_HZ,
    RHYTHM_LOW_HZ,
    RHYTHM_LOW_WEIGHT,
    OnsetDetector,
    onset_window,
)
from liveai.dsp import beathop as bh
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
#: Probability spread uniformly over every state each hop (recovers from a wrong lock): small
#: while the beat is confident (at least BEATS_OFF_CONFIDENCE), larger once it is lost.
STATE_FLOOR = 1e-10
STATE_FLOOR_LOST = 1e-6
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
#: Breakdowns: below COAST_BELOW confidence, or with the mean activation under COAST_FADE of
#: the groove's, while the music plays on (mean activation at least COAST_MIN_ACTIVITY, or the
#: hop at least COAST_MIN_DB dBFS: pads have few onsets), a beat that was confident and steady
#: for COAST_ARM_BEATS beats (within COAST_STEADY) holds its tempo and phase for up to
#: COAST_BEATS beats.
COAST_BELOW = 0.2
COAST_FADE = 0.5
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
#: last ANCHOR_SKIP (where the pulse may already be fading); a coast starts only when that fit
#: was made at most COAST_ANCHOR_BEATS beats ago.
ANCHOR_SKIP = 3
COAST_ANCHOR_BEATS = 8.0
#: Metrical level (:mod:`liveai.analysis.level`): a change of the reported pulse level (the
#: model's, half or double it) must win LEVEL_HOLD of the model's beats in a row, unless the
#: level reported now left the tempo range; the first choice is taken once 8 beats are in.
LEVEL_HOLD = 4
#: The level model's log-odds are averaged over the model's beats with this weight on the
#: newest; a change needs its average to lead the reported level's by LEVEL_MARGIN.
LEVEL_SMOOTHING = 0.3
LEVEL_MARGIN = 1.0


class _State:
    """A :class:`BeatTracker` attribute that lives in its kernels' state array ``_st``."""

    def __init__(self, kind: type = float) -> None:
        self.kind = kind

    def __set_name__(self, owner: type, name: str) -> None:
        self.index = bh.STATE_NAMES.index(name.lstrip("_"))

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return self.kind(obj._st[self.index])

    def __set__(self, obj, value) -> None:
        obj._st[self.index] = value


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
    its tempo and phase for a while (:func:`liveai.dsp.beathop.coast`).

    Each hop is one compiled call (:mod:`liveai.dsp.beathop`) on the state array ``_st``, which
    the attributes below read and write by name; the pipeline runs it inside its own hop call.

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

    # The state the per-hop kernels (:mod:`liveai.dsp.beathop`) read and write, by name.
    frames = _State(int)
    period = _State()  # frames per beat; 0 = no tempo yet
    confidence = _State()
    lift = _State()
    activation = _State()
    beating = _State(bool)
    since_beat = _State(int)
    next_beat_at = _State()  # frames after the last beat
    predicted = _State(bool)
    beat_count = _State(int)
    bar_count = _State(int)
    beat_in_bar = _State(int)  # -1 until the downbeat is found
    beats_per_bar = _State(int)
    external = _State(bool)
    level = _State()  # reported tempo / the model's tempo: 0.5, 1 or 2
    _level_parity = _State(int)  # at level 0.5, which of the model's beats are beats
    _offbeat = _State(bool)  # at level 1, the reported beats are the model's off-beats
    _hmm_slot = _State(int)  # the model's beats, counted mod 8
    _hmm_since = _State(int)
    _half_fired = _State(bool)
    _downbeat_pos = _State(int)  # beat position (mod beats_per_bar) of the downbeat; -1 unknown
    _last_frac = _State()
    _s_a = _State()
    _s_w = _State()
    _hold_frames = _State(int)  # a tapped tempo holds (beats fire, no switch) this many hops
    _coast_frames = _State(int)  # the beat holds through a breakdown this many more hops
    _confident_frames = _State(int)
    _anchor_frame = _State()
    _anchor_period = _State()
    _anchor_activity = _State()

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
        self._levels = LevelChooser()
        self._level_log: list | None = None
        self._default_bpb = int(beats_per_bar)
        self._meter_energy = {3: np.zeros(3), 4: np.zeros(4)}
        self._steady_frames = np.zeros((2, 16))  # the steady beats' hops and activity
        self._st = np.zeros(bh.N_STATE)
        cfg = {
            "fps": self.fps, "hop_s": self.hop_s,
            "mean_decay": math.exp(-1.0 / (ACT_MEAN_S * self.fps)),
            "peak_decay": math.exp(-1.0 / (ACT_PEAK_S * self.fps)),
            "act_mean_weight": ACT_MEAN_WEIGHT, "act_power": ACT_POWER,
            "conf_rate": 1.0 - math.exp(-1.0 / (CONFIDENCE_S * self.fps)),
            "lift_floor": LIFT_FLOOR, "lift_full": LIFT_FULL, "beats_on": BEATS_ON_CONFIDENCE,
            "beats_off": BEATS_OFF_CONFIDENCE, "period_smoothing": PERIOD_SMOOTHING,
            "obs_lambda": self._obs_lambda, "state_floor": STATE_FLOOR,
            "lag_min": self.lag_min, "lag_max": self.lag_max, "coast_below": COAST_BELOW,
            "coast_min_activity": COAST_MIN_ACTIVITY, "coast_min_db": COAST_MIN_DB,
            "coast_beats": COAST_BEATS, "coast_arm_beats": COAST_ARM_BEATS,
            "coast_steady": COAST_STEADY, "coast_end_confidence": COAST_END_CONFIDENCE,
            "coast_back_activity": COAST_BACK_ACTIVITY, "meter_min_contrast": METER_MIN_CONTRAST,
            "meter_ratio": METER_RATIO, "anchor_skip": ANCHOR_SKIP,
            "bpm_lo": 0.95 * self.bpm_range[0], "bpm_hi": 1.05 * self.bpm_range[1],
            "level_smoothing": LEVEL_SMOOTHING, "level_margin": LEVEL_MARGIN,
            "level_hold": LEVEL_HOLD, "admit": lvl.ADMIT, "triple_contrast": lvl.TRIPLE_CONTRAST,
            "new_weight": lvl.NEW_WEIGHT, "metre_decay": lvl.METRE_DECAY,
            "coast_anchor_beats": COAST_ANCHOR_BEATS, "state_floor_lost": STATE_FLOOR_LOST,
            "coast_fade": COAST_FADE}
        self._cfg = np.array([cfg[name] for name in bh.CFG_NAMES], dtype=np.float64)
        ch = self._levels
        n_cand = len(CANDIDATES)
        self._rows = np.zeros((n_cand, lvl.N_FEATURES))
        self._admitted = np.zeros(n_cand)
        #: :func:`_beat_hop`'s arguments after ``frame``, gathered once (every array is
        #: updated in place, never replaced): see :func:`liveai.dsp.beathop.beat_hop`.
        self.kernel_args = (
            self._st, self._cfg,
            (self._alpha, self._pred, self._offsets, self._intervals, self._beat_len, self._tm,
             self._tempo_weight, self._marg, self._info),
            (self._beat_frames, self._meter_energy[3], self._meter_energy[4],
             self._steady_frames),
            (ch.hist, ch.peak, ch.visits, ch.count, ch.metre2, ch.metre3, lvl.CANDIDATE_ARRAY,
             self._rows, self._admitted, np.zeros(n_cand), np.zeros(n_cand),
             np.zeros((4, 4, lvl.N_BANDS))),
            lvl.MODEL)
        self.choose_level = choose_level
        self.reset()

    @property
    def choose_level(self) -> bool:
        """Report the pulse level people tap (False: the model's own)."""
        return bool(self._st[bh.CHOOSE_LEVEL])

    @choose_level.setter
    def choose_level(self, on: bool) -> None:
        self._st[bh.CHOOSE_LEVEL] = bool(on)
        self._want_features()

    @property
    def level_log(self) -> list | None:
        """None, or a list that records the level model's training data.

        Set to a list: each beat of the model where the level is chosen appends (hop, model
        BPM, slot, candidate rows, admitted).
        """
        return self._level_log

    @level_log.setter
    def level_log(self, log: list | None) -> None:
        self._level_log = log
        self._want_features()

    def _want_features(self) -> None:
        # The candidates' features are computed only when something chooses or records them.
        self._st[bh.WANT_FEATURES] = self.choose_level or self._level_log is not None

    def reset(self) -> None:
        """Forget all history."""
        self._alpha[:] = 1.0 / self._alpha.size
        for e in self._meter_energy.values():
            e[:] = 0.0
        self._beat_frames[:] = 0.0
        self._steady_frames[:] = 0.0
        choose = self.choose_level
        self._st[:] = 0.0  # every counter, average and flag
        self.choose_level = choose  # a setting, not history
        self.beats_per_bar = self._default_bpb
        self.beat_in_bar = -1  # unknown until the downbeat is found
        self._downbeat_pos = -1
        self._taps: list[int] = []  # hop numbers of the last taps
        self._ext_bpm = 0.0
        self._ext_pos = 0.0
        self._ext_prev: float | None = None
        self._reset_level()

    def _reset_level(self, decided: bool = False) -> None:
        """Report the model's own pulse level and forget the accent histogram.

        ``decided``: the level is the performer's (a tap); a change must win LEVEL_HOLD times.
        """
        self.level = 1.0
        self._level_parity = 0
        self._offbeat = False
        self._levels.reset()
        st = self._st
        st[bh.SCORES_INIT] = 0.0  # no running scores
        st[bh.LEVEL_VOTES] = 0.0
        st[bh.LEVEL_VOTE] = 0.0  # the first candidate
        st[bh.LEVEL_DECIDED] = decided
        self._hmm_slot = 0
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
        self._coast_frames = 0  # the performer's beat replaces a breakdown's held grid

    def nudge(self, ms: float) -> None:
        """Move the beat grid later (ms > 0) or earlier (ms < 0) by ``ms`` milliseconds."""
        frames = int(round(ms / 1000.0 * self.fps))  # [s] * [hops/s]
        if frames == 0:
            return
        self.since_beat -= frames
        # Later: every state's position moves back by that many hops, and so does the grid a
        # breakdown holds (during a coast it sets the phase every hop).
        bs.shift_phase(self._alpha, self._scratch, self._offsets, self._intervals, frames)
        self._anchor_frame += frames

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
        bh.update_lift(self._st, self._cfg, act, 1.0 if in_beat else 0.0)
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

    def process(self, onset_value: float, low_value: float, frame: np.ndarray,
                mid_value: float = 0.0, high_value: float = 0.0) -> bool:
        """Advance one hop; write the tempo/beat/bar fields of ``frame``.

        Parameters
        ----------
        onset_value : float
            This hop's rhythm detection function.
        low_value : float
            This hop's low-band detection function (for downbeats and metre).
        frame : np.ndarray
            A 0-d FRAME_DTYPE array; its ``rms_db`` (this hop's level) is read: a breakdown
            coasts while the music plays on.
        mid_value, high_value : float, optional
            This hop's mid- and high-band onset detection functions (for the pulse level).

        Returns
        -------
        bool
            True when a beat fires in this hop.
        """
        code = _beat_hop(frame, *self.kernel_args, float(onset_value), float(low_value),
                         float(mid_value), float(high_value))
        return self.finish_hop(code, frame)

    def finish_hop(self, code: int, frame: np.ndarray) -> bool:
        """What a hop of the kernel (:func:`_beat_hop`) leaves to Python; True on a beat.

        An external clock's hop, and the level model's training record.
        """
        if code == bh.HOP_EXTERNAL:
            beat = self._process_external(self.activation)
            _write(frame, self._st, self._cfg)
            return beat
        if self._level_log is not None and self._st[bh.ROWS_NEW]:
            self._level_log.append((self.frames, 60.0 * self.fps / self.period, self._hmm_slot,
                                    self._rows.copy(), self._admitted > 0.0))
        return code == bh.HOP_BEAT

    def _set_level(self, level: float, parity: int, shift: float) -> None:
        """Report the candidate level (ratio, parity, shift) from now on.

        (level, parity, shift) must be one of CANDIDATES (parity -1 unless level is 0.5).
        """
        bh.set_level(self._st, lvl.CANDIDATE_ARRAY, CANDIDATES.index((level, parity, shift)),
                     self._meter_energy[3], self._meter_energy[4])


@njit(cache=True, nogil=True)
def _write(frame, st, cfg):  # pragma: no cover - compiled
    """The tracker's state into the tempo, beat and bar fields of ``frame`` (0-d record)."""
    r = frame[()]
    period = st[bh.PERIOD]
    r.tempo_bpm = 60.0 * cfg[bh.C_FPS] * st[bh.LEVEL] / period if period else 0.0
    r.tempo_confidence = st[bh.CONFIDENCE]
    r.beat_count = int(st[bh.BEAT_COUNT])
    r.bar_count = int(st[bh.BAR_COUNT])
    in_bar = st[bh.BEAT_IN_BAR]
    r.beat_in_bar = int(in_bar)
    r.beats_per_bar = int(st[bh.BEATS_PER_BAR])
    since = st[bh.SINCE_BEAT]
    span = max(st[bh.NEXT_BEAT_AT], 1.0)
    phase = min(max(since, 0.0) / span, 1.0) if period else 0.0
    r.beat_phase = phase
    r.bar_phase = (in_bar + phase) / st[bh.BEATS_PER_BAR] if in_bar >= 0 else 0.0
    r.next_beat_s = max(st[bh.NEXT_BEAT_AT] - since, 0.0) * cfg[bh.C_HOP_S]


@njit(cache=True, nogil=True)
def _beat_hop(frame, st, cfg, hmm, bars, lv, model, onset_value, low_value, mid_value,
              high_value):  # pragma: no cover - compiled
    """:func:`liveai.dsp.beathop.beat_hop` on this hop, then its fields into ``frame``.

    ``frame`` (0-d FRAME_DTYPE) gives the hop's level (``rms_db``); the other arguments are
    :attr:`BeatTracker.kernel_args` and the detection functions. When an external clock runs
    the beat, :meth:`BeatTracker.finish_hop` ends the hop and writes the frame.
    """
    code = bh.beat_hop(st, cfg, hmm, bars, lv, model, onset_value, low_value, mid_value,
                       high_value, float(frame[()].rms_db))
    if code != bh.HOP_EXTERNAL:
        _write(frame, st, cfg)
    return code


def warm_up(alone: bool = False) -> float:
    """Compile (or load from numba's cache) the tracker's kernels; return the seconds taken.

    Parameters
    ----------
    alone : bool
        Also the tracker's own hop call (:meth:`BeatTracker.process`). The pipeline runs the
        hop inside its own compiled call and needs only the kernels Python calls between hops
        (an external clock, a tap); compiling the tracker's own call from a cold cache takes
        as long again as the rest of the analysis.
    """
    import time

    from liveai.frame import new_frame

    t0 = time.perf_counter()
    tr = BeatTracker(48000, 512)
    frame = new_frame()
    if alone:
        tr.process(1.0, 0.0, frame)  # compiles the whole hop, every branch
    tr._set_level(*CANDIDATES[0])
    tr.follow_external(120.0, 0.5)
    tr._process_external(0.5)  # an external clock's hop (what finish_hop runs)
    _write(frame, tr._st, tr._cfg)
    _ = tr._levels.triple
    return time.perf_counter() - t0
