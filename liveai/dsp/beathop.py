"""The beat tracker's bookkeeping, one hop at a time: activation, confidence, breakdowns, beats.

:mod:`liveai.dsp.beatstate` holds the beat-pointer HMM; these kernels run around it every
hop: the activation the HMM observes, the lift and the confidence, the coast through a
breakdown, the reported period; at each beat of the model the grid a breakdown will hold
and the metrical level (:mod:`liveai.dsp.pulse_level`); the beats reported at that level,
and the bar counting at each of them. A hop is one compiled call; only an external clock
(Ableton Link, MIDI clock) hands the hop back to Python
(:class:`liveai.analysis.rhythm.BeatTracker`, which owns the state and documents the method).

The state is one float64 array ``st`` indexed by the constants below (counters, flags and
levels held as floats: exact for whole numbers below 2**53); the settings are another, ``cfg``,
filled from the tracker's module constants when it is built.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from liveai.dsp import beatstate as bs
from liveai.dsp import pulse_level as pl

# -- state: indices into ``st`` -----------------------------------------------------------------
#: Names of the state entries, in index order (the constants below are their indices).
STATE_NAMES = (
    "frames", "hold_frames", "period", "confidence", "s_ab", "s_a", "s_b", "s_w", "lift",
    "beating", "since_beat", "next_beat_at", "predicted", "beat_count", "bar_count",
    "beat_in_bar", "downbeat_pos", "last_frac", "n_beat_frames", "act_mean", "act_peak",
    "activation", "low_recent", "credit_pos", "credit_max", "credit_left", "coast_frames",
    "coast_armed", "confident_frames", "anchor_frame", "anchor_period", "anchor_activity",
    "back_frames", "steady_lo", "steady_hi", "external", "level", "level_parity", "offbeat",
    "hmm_slot", "hmm_since", "half_fired", "beats_per_bar", "choose_level", "want_features",
    "n_steady", "level_decided", "level_votes", "level_vote", "scores_init", "rows_new",
    "last_steady",
    # this hop's model position, for the second half of a hop (after a beat of the model)
    "hop_n", "hop_p", "hop_frac", "hop_act", "listening",
)
(FRAMES, HOLD_FRAMES, PERIOD, CONFIDENCE, S_AB, S_A, S_B, S_W, LIFT, BEATING, SINCE_BEAT,
 NEXT_BEAT_AT, PREDICTED, BEAT_COUNT, BAR_COUNT, BEAT_IN_BAR, DOWNBEAT_POS, LAST_FRAC,
 N_BEAT_FRAMES, ACT_MEAN, ACT_PEAK, ACTIVATION, LOW_RECENT, CREDIT_POS, CREDIT_MAX, CREDIT_LEFT,
 COAST_FRAMES, COAST_ARMED, CONFIDENT_FRAMES, ANCHOR_FRAME, ANCHOR_PERIOD, ANCHOR_ACTIVITY,
 BACK_FRAMES, STEADY_LO, STEADY_HI, EXTERNAL, LEVEL, LEVEL_PARITY, OFFBEAT, HMM_SLOT, HMM_SINCE,
 HALF_FIRED, BEATS_PER_BAR, CHOOSE_LEVEL, WANT_FEATURES, N_STEADY, LEVEL_DECIDED, LEVEL_VOTES,
 LEVEL_VOTE, SCORES_INIT, ROWS_NEW, LAST_STEADY, HOP_N, HOP_P, HOP_FRAC, HOP_ACT,
 LISTENING) = range(len(STATE_NAMES))
N_STATE = len(STATE_NAMES)

# -- settings: indices into ``cfg`` -------------------------------------------------------------
CFG_NAMES = (
    "fps", "hop_s", "mean_decay", "peak_decay", "act_mean_weight", "act_power", "conf_rate",
    "lift_floor", "lift_full", "beats_on", "beats_off", "period_smoothing", "obs_lambda",
    "state_floor", "lag_min", "lag_max", "coast_below", "coast_min_activity", "coast_min_db",
    "coast_beats", "coast_arm_beats", "coast_steady", "coast_end_confidence",
    "coast_back_activity", "meter_min_contrast", "meter_ratio", "anchor_skip", "bpm_lo",
    "bpm_hi", "level_smoothing", "level_margin", "level_hold", "admit", "triple_contrast",
    "new_weight", "metre_decay", "coast_anchor_beats", "state_floor_lost", "coast_fade",
)
(C_FPS, C_HOP_S, C_MEAN_DECAY, C_PEAK_DECAY, C_ACT_MEAN_WEIGHT, C_ACT_POWER, C_CONF_RATE,
 C_LIFT_FLOOR, C_LIFT_FULL, C_BEATS_ON, C_BEATS_OFF, C_PERIOD_SMOOTHING, C_OBS_LAMBDA,
 C_STATE_FLOOR, C_LAG_MIN, C_LAG_MAX, C_COAST_BELOW, C_COAST_MIN_ACTIVITY, C_COAST_MIN_DB,
 C_COAST_BEATS, C_COAST_ARM_BEATS, C_COAST_STEADY, C_COAST_END_CONFIDENCE, C_COAST_BACK_ACTIVITY,
 C_METER_MIN_CONTRAST, C_METER_RATIO, C_ANCHOR_SKIP, C_BPM_LO, C_BPM_HI, C_LEVEL_SMOOTHING,
 C_LEVEL_MARGIN, C_LEVEL_HOLD, C_ADMIT, C_TRIPLE_CONTRAST, C_NEW_WEIGHT,
 C_METRE_DECAY, C_COAST_ANCHOR_BEATS, C_STATE_FLOOR_LOST, C_COAST_FADE) = range(len(CFG_NAMES))
N_CFG = len(CFG_NAMES)

#: What :func:`hop_start` and :func:`beat_hop` return.
HOP_QUIET = 0  # the hop is done, no beat reported
HOP_BEAT = 1  # the hop is done, a beat reported
HOP_MODEL_BEAT = 2  # (hop_start only) a beat of the model: model_beat, then hop_end
HOP_EXTERNAL = 3  # an external clock runs the beat: the tracker's Python part does the hop


@njit(cache=True, nogil=True)
def activation(st, cfg, value):  # pragma: no cover - compiled
    """The detection value minus its local mean, relative to its recent peak: 0..1."""
    d = value - cfg[C_ACT_MEAN_WEIGHT] * st[ACT_MEAN]
    decay = cfg[C_MEAN_DECAY]
    st[ACT_MEAN] = decay * st[ACT_MEAN] + (1.0 - decay) * value
    d = max(d, 0.0)
    st[ACT_PEAK] = max(d, st[ACT_PEAK] * cfg[C_PEAK_DECAY])
    if st[ACT_PEAK] <= 1e-9:
        return 0.0
    return min(d / st[ACT_PEAK], 1.0) ** cfg[C_ACT_POWER]


@njit(cache=True, nogil=True)
def update_lift(st, cfg, act, pb):  # pragma: no cover - compiled
    """Update the lift and the confidence from this hop; return the averages' weight.

    The lift is [activation where a beat was predicted] / [activation anywhere]: 1 when the
    predictions know nothing about the audio (noise), well above in music. A young average
    earns less trust.
    """
    r = cfg[C_CONF_RATE]
    st[S_AB] += r * (act * pb - st[S_AB])
    st[S_A] += r * (act - st[S_A])
    st[S_B] += r * (pb - st[S_B])
    st[S_W] += r * (1.0 - st[S_W])  # the weight the averages have so far (bias)
    w = st[S_W]
    lift = (st[S_AB] / w) / max((st[S_A] / w + cfg[C_LIFT_FLOOR]) * (st[S_B] / w), 1e-12)
    st[LIFT] = lift
    st[CONFIDENCE] = min(max((lift - 1.0) / (cfg[C_LIFT_FULL] - 1.0), 0.0), 1.0) * w
    return w


@njit(cache=True, nogil=True)
def restore_anchor(st, cfg, alpha, offsets, intervals):  # pragma: no cover - compiled
    """Go back to the last steady beat's tempo and phase, carried on to this hop.

    The model drifts as the pulse fades (it looks for another one in the pads); what a
    breakdown holds is the groove's beat from before it faded.
    """
    period = min(max(st[ANCHOR_PERIOD], cfg[C_LAG_MIN]), cfg[C_LAG_MAX])
    since = st[FRAMES] - st[ANCHOR_FRAME]  # hops since that beat
    frac = (since / period) % 1.0
    bs.set_state(alpha, offsets, intervals, period, frac, 0.01)
    st[PERIOD] = period


@njit(cache=True, nogil=True)
def coast(st, cfg, activity, level_db, alpha, offsets, intervals):  # pragma: no cover
    """Keep the beat through a breakdown: the pulse fades while the music plays on.

    When a confident beat loses its confidence (below ``coast_below``) or its onsets thin
    (``activity``, the mean activation, under ``coast_fade`` of the groove's at the end of the
    fitted grid) while there is still music (activity at least ``coast_min_activity``, or the
    hop's level ``level_db`` at least ``coast_min_db``: pads have few onsets), the tracker stops
    listening and holds the grid fitted through the steady beats before it
    (:func:`steady_beat`, at most ``coast_anchor_beats`` old) for up to ``coast_beats`` beats,
    firing beats; a returning pulse (confident for a beat, onsets back to
    ``coast_back_activity`` of the groove's), the coast's end or silence ends it. It is armed by
    ``coast_arm_beats`` confident beats in a row at a steady tempo (within ``coast_steady``): a
    rubato has no tempo to hold.
    """
    period = st[PERIOD]
    if st[CONFIDENCE] >= cfg[C_BEATS_ON] and period:
        if st[CONFIDENT_FRAMES] == 0:
            st[STEADY_LO] = period
            st[STEADY_HI] = period
        st[CONFIDENT_FRAMES] += 1
        st[STEADY_LO] = min(st[STEADY_LO], period)
        st[STEADY_HI] = max(st[STEADY_HI], period)
        if st[STEADY_HI] > (1.0 + cfg[C_COAST_STEADY]) * st[STEADY_LO]:  # not steady
            st[CONFIDENT_FRAMES] = 0
        if st[CONFIDENT_FRAMES] >= cfg[C_COAST_ARM_BEATS] * period:
            st[COAST_ARMED] = 1.0
    else:
        st[CONFIDENT_FRAMES] = 0
    playing = activity >= cfg[C_COAST_MIN_ACTIVITY] or level_db >= cfg[C_COAST_MIN_DB]
    if st[COAST_FRAMES] > 0:
        st[COAST_FRAMES] -= 1
        # Back: a confident pulse for a whole beat, with the onsets as dense as in the groove
        # before (a piano on the breakdown's downbeats is confident, not dense).
        back = (st[CONFIDENCE] >= cfg[C_COAST_END_CONFIDENCE]
                and activity >= cfg[C_COAST_BACK_ACTIVITY] * st[ANCHOR_ACTIVITY])
        st[BACK_FRAMES] = st[BACK_FRAMES] + 1 if back else 0.0
        if st[BACK_FRAMES] >= st[PERIOD] or not playing:
            st[COAST_FRAMES] = 0
        if st[ANCHOR_PERIOD]:
            # The model's states have whole-hop beat intervals: left alone it would hold the
            # nearest one (126.0 or 129.2 BPM for 128) and drift off the grid.
            restore_anchor(st, cfg, alpha, offsets, intervals)
    elif (st[BEATING] and st[COAST_ARMED] and st[HOLD_FRAMES] <= 0 and period
          and (st[CONFIDENCE] < cfg[C_COAST_BELOW]
               or activity < cfg[C_COAST_FADE] * st[ANCHOR_ACTIVITY])
          and playing and st[ANCHOR_PERIOD]
          and st[FRAMES] - st[LAST_STEADY] <= cfg[C_COAST_ANCHOR_BEATS] * period):
        # Only with a grid fitted through steady beats just before: the model's own states
        # hold whole-hop intervals, and an old grid has drifted off the music.
        restore_anchor(st, cfg, alpha, offsets, intervals)
        st[BACK_FRAMES] = 0
        st[COAST_FRAMES] = float(int(cfg[C_COAST_BEATS] * st[PERIOD]))
        st[COAST_ARMED] = 0.0


@njit(cache=True, nogil=True)
def beat_interval(st, beat_frames, n):  # pragma: no cover - compiled
    """The mean interval of the last beats of the model [hops], 0 if they disagree.

    ``beat_frames`` (n_ibi + 1,) holds the hops of the last beats, oldest first. The states'
    intervals are whole hops; the beats they fire average to the fraction in between (124 BPM
    at 86 hops/s is 41.7 hops, between the states 41 and 42).
    """
    n_ibi = beat_frames.shape[0] - 1
    if st[N_BEAT_FRAMES] <= n_ibi:
        return 0.0
    lo = hi = beat_frames[1] - beat_frames[0]
    for i in range(1, n_ibi):
        d = beat_frames[i + 1] - beat_frames[i]
        lo = min(lo, d)
        hi = max(hi, d)
    mean = (beat_frames[n_ibi] - beat_frames[0]) / n_ibi
    if hi > 1.15 * lo or abs(mean - n) > 0.1 * n:
        return 0.0
    return mean


@njit(cache=True, nogil=True)
def credit_bar(st, meter3, meter4):  # pragma: no cover - compiled
    """Credit the last beat's low-band peak to its position in cycles of 3 and 4 beats."""
    pos = int(st[CREDIT_POS])
    for e in (meter3, meter4):
        for i in range(e.shape[0]):
            e[i] *= 0.98
        e[pos % e.shape[0]] += st[CREDIT_MAX]
    st[CREDIT_LEFT] = 0


@njit(cache=True, nogil=True)
def hop_start(st, cfg, alpha, pred, offsets, intervals, beat_len, tm, tempo_weight, marg, info,
              beat_frames, meter3, meter4, onset_value, low_value,
              level_db):  # pragma: no cover - compiled
    """The first half of a hop: the HMM, the confidence, the coast and the model's beat.

    Returns HOP_EXTERNAL (an external clock runs the beat: only the activation and the bar
    credit of the low band are done), HOP_MODEL_BEAT (the model's pointer started a beat in
    this hop) or HOP_QUIET. This hop's model interval, position, phase and activation are left
    in ``st`` for :func:`hop_end`.
    """
    st[FRAMES] += 1
    st[ROWS_NEW] = 0.0
    if st[HOLD_FRAMES] > 0:
        st[HOLD_FRAMES] -= 1
    act = activation(st, cfg, onset_value)
    st[ACTIVATION] = act
    st[LOW_RECENT] = max(0.8 * st[LOW_RECENT], low_value)
    if st[CREDIT_LEFT] > 0:  # the kick of the last beat may land just after it fired
        st[CREDIT_MAX] = max(st[CREDIT_MAX], low_value)
        st[CREDIT_LEFT] -= 1
        if st[CREDIT_LEFT] == 0:
            credit_bar(st, meter3, meter4)
    if st[EXTERNAL]:
        return HOP_EXTERNAL
    # A tapped tempo holds, and so does the beat through a breakdown: the pointer moves on
    # without listening.
    listening = st[HOLD_FRAMES] <= 0 and st[COAST_FRAMES] <= 0
    # A lock holds on to its tempo and phase; a lost beat looks everywhere for a new one.
    floor = cfg[C_STATE_FLOOR] if st[CONFIDENCE] >= cfg[C_BEATS_OFF] else cfg[C_STATE_FLOOR_LOST]
    bs.forward_step(alpha, pred, offsets, intervals, beat_len, tm, tempo_weight,
                    act if listening else -1.0, cfg[C_OBS_LAMBDA], floor, marg, info)
    w = update_lift(st, cfg, act, info[6])
    if st[HOLD_FRAMES] > 0:
        st[CONFIDENCE] = max(st[CONFIDENCE], cfg[C_BEATS_ON])
    coast(st, cfg, st[S_A] / w, level_db, alpha, offsets, intervals)
    if st[CONFIDENCE] >= cfg[C_BEATS_ON]:
        st[BEATING] = 1.0
    elif st[CONFIDENCE] < cfg[C_BEATS_OFF] and st[COAST_FRAMES] <= 0:
        st[BEATING] = 0.0
    t = int(info[1])
    p = info[2]
    n = float(intervals[t])
    target = beat_interval(st, beat_frames, n)
    if target <= 0.0:
        target = info[3]
    if (st[HOLD_FRAMES] > 0 or st[COAST_FRAMES] > 0) and st[PERIOD]:
        pass  # a tapped tempo holds, and so does a breakdown's
    elif st[PERIOD] == 0.0 or st[FRAMES] < 8:
        st[PERIOD] = target
    else:
        st[PERIOD] += cfg[C_PERIOD_SMOOTHING] * (target - st[PERIOD])
    if st[COAST_FRAMES] > 0 and st[ANCHOR_PERIOD]:
        # A breakdown: the beat is the steady grid from before it, to the fraction of a hop.
        n = st[ANCHOR_PERIOD]
        p = (st[FRAMES] - st[ANCHOR_FRAME]) % n
    frac = p / n
    st[SINCE_BEAT] += 1
    st[HMM_SINCE] += 1
    # The model's beat: its pointer wrapped to the start of a beat.
    model_beat = frac < st[LAST_FRAC] - 0.5 and st[HMM_SINCE] >= 0.5 * n
    st[LAST_FRAC] = frac
    st[HOP_N] = n
    st[HOP_P] = p
    st[HOP_FRAC] = frac
    st[HOP_ACT] = act
    st[LISTENING] = 1.0 if listening else 0.0
    if not model_beat:
        return HOP_QUIET
    st[HMM_SINCE] = 0
    last = beat_frames.shape[0] - 1
    for i in range(last):
        beat_frames[i] = beat_frames[i + 1]
    beat_frames[last] = st[FRAMES]
    st[N_BEAT_FRAMES] += 1
    return HOP_MODEL_BEAT


@njit(cache=True, nogil=True)
def choose_meter(st, cfg, meter3, meter4):  # pragma: no cover - compiled
    """3 beats per bar when that cycle clearly stands out in the low band, else 4."""
    c3 = pl.contrast(meter3)
    c4 = pl.contrast(meter4)
    n = int(st[BEATS_PER_BAR])
    if n != 3 and c3 > cfg[C_METER_MIN_CONTRAST] and c3 > cfg[C_METER_RATIO] * c4:
        n = 3
    elif n != 4 and (c4 > c3 or c3 < 0.5 * cfg[C_METER_MIN_CONTRAST]):
        n = 4
    if n != st[BEATS_PER_BAR]:
        st[BEATS_PER_BAR] = n
        st[DOWNBEAT_POS] = -1
        st[BEAT_IN_BAR] = -1


@njit(cache=True, nogil=True)
def on_beat(st, cfg, meter3, meter4):  # pragma: no cover - compiled
    """A reported beat: count it, and place it in the bar.

    Downbeat: the position in the bar where the low band (the kick) is strongest, chosen after
    two bars of evidence and changed only when another position clearly wins. Each beat's
    low-band peak within a quarter beat either side is credited to its position.
    """
    st[BEAT_COUNT] += 1
    st[SINCE_BEAT] = 0
    if st[CREDIT_LEFT] > 0:
        credit_bar(st, meter3, meter4)
    count = int(st[BEAT_COUNT])
    st[CREDIT_POS] = count
    st[CREDIT_MAX] = st[LOW_RECENT]
    st[CREDIT_LEFT] = max(1.0, np.rint(st[PERIOD] / st[LEVEL] / 4))
    if count >= 12:
        choose_meter(st, cfg, meter3, meter4)
    n = int(st[BEATS_PER_BAR])
    e = meter3 if n == 3 else meter4
    best = 0
    for i in range(1, n):  # the first strongest, as np.argmax
        if e[i] > e[best]:
            best = i
    down = int(st[DOWNBEAT_POS])
    if down < 0:
        if count >= 2 * n:
            down = best
    elif best != down and e[best] > 1.25 * e[down]:
        down = best
    st[DOWNBEAT_POS] = down
    if down < 0:
        return
    previous = st[BEAT_IN_BAR]
    st[BEAT_IN_BAR] = (count % n - down) % n
    # A bar starts when the count wraps, not whenever the downbeat guess moves.
    if st[BEAT_IN_BAR] == 0 and previous != 0:
        st[BAR_COUNT] += 1


@njit(cache=True, nogil=True)
def steady_beat(st, cfg, steady):  # pragma: no cover - compiled
    """A steady, confident beat of the model: the grid a breakdown's coast will hold.

    ``steady`` (2, n) keeps, for the current steady stretch's last beats (a ring), their hops
    and the mean activation then. The grid is the least-squares line through the hops, leaving
    out the last ``anchor_skip`` (the pulse may already be fading there): ``st[ANCHOR_PERIOD]``
    hops per beat through a beat at hop ``st[ANCHOR_FRAME]``; ``st[ANCHOR_ACTIVITY]`` is the
    mean activation at that beat (what a fading breakdown is measured against) and
    ``st[LAST_STEADY]`` the hop of this fit.
    """
    hops = steady[0]
    size = hops.shape[0]
    n = int(st[N_STEADY])
    frames = st[FRAMES]
    period = st[PERIOD]
    if n and abs(frames - hops[(n - 1) % size] - period) > 0.25 * period:
        n = 0  # not the next beat of the same stretch: start again
    hops[n % size] = frames
    steady[1, n % size] = st[S_A] / max(st[S_W], 1e-9)
    n += 1
    st[N_STEADY] = n
    kept = min(n, size)
    use = kept - int(cfg[C_ANCHOR_SKIP])
    if use < 4:
        return
    first = n - kept
    k_mean = 0.5 * (use - 1)
    f_mean = 0.0
    for i in range(use):
        f_mean += hops[(first + i) % size]
    f_mean /= use
    sxy = 0.0
    sxx = 0.0
    for i in range(use):
        dk = i - k_mean
        sxy += dk * (hops[(first + i) % size] - f_mean)
        sxx += dk * dk
    slope = sxy / sxx  # hops per beat
    st[ANCHOR_PERIOD] = slope
    st[ANCHOR_FRAME] = f_mean + slope * (use - 1 - k_mean)
    st[ANCHOR_ACTIVITY] = steady[1, (first + use - 1) % size]
    st[LAST_STEADY] = frames


@njit(cache=True, nogil=True)
def level_now(st, candidates):  # pragma: no cover - compiled
    """The row of ``candidates`` that is the level reported now."""
    level = st[LEVEL]
    shift = 0.5 if st[OFFBEAT] else 0.0
    for r in range(candidates.shape[0]):
        if candidates[r, 0] != level:
            continue
        if level == 0.5:
            if candidates[r, 1] == st[LEVEL_PARITY]:
                return r
        elif candidates[r, 2] == shift:
            return r
    return 0


@njit(cache=True, nogil=True)
def set_level(st, candidates, r, meter3, meter4):  # pragma: no cover - compiled
    """Report the level of ``candidates[r]`` from the model's next beat on; forget the bars."""
    st[LEVEL] = candidates[r, 0]
    st[LEVEL_PARITY] = max(candidates[r, 1], 0.0)
    st[OFFBEAT] = 1.0 if candidates[r, 2] > 0.0 else 0.0
    st[LEVEL_VOTES] = 0
    st[HALF_FIRED] = 1.0  # no midpoint until the model's next beat
    # The beats moved: the bar positions counted so far mean nothing now.
    meter3[:] = 0.0
    meter4[:] = 0.0
    st[DOWNBEAT_POS] = -1
    st[BEAT_IN_BAR] = -1


@njit(cache=True, nogil=True)
def choose_level(st, cfg, hist, visits, metre2, metre3, candidates, rows, admitted, raw, avg,
                 scratch, w_mean, w_std, w1, b1, w2, meter3, meter4):  # pragma: no cover
    """A beat of the model: choose the reported pulse level from the accents.

    The candidates inside the tempo range are scored by the level model
    (:func:`liveai.dsp.pulse_level.scores`, averaged over beats); a change must lead the
    level reported now by ``level_margin`` for ``level_hold`` beats in a row, unless the level
    reported now left the range or nothing was chosen yet. The arrays are those of
    :func:`beat_hop`'s tuples ``lv`` and ``model``, and ``meter3``, ``meter4``.
    """
    if (not st[LISTENING] or st[EXTERNAL] or not st[BEATING] or not st[PERIOD]
            or not st[WANT_FEATURES]):
        return
    for v in visits:
        if v == 0:
            return  # a slot has not seen a whole beat yet
    bpm = 60.0 * cfg[C_FPS] / st[PERIOD]
    pl.features(hist, candidates, bpm, cfg[C_ADMIT], cfg[C_TRIPLE_CONTRAST], metre2, metre3,
                scratch, rows, admitted)
    st[ROWS_NEW] = 1.0
    if not st[CHOOSE_LEVEL]:
        return
    pl.scores(rows, w_mean, w_std, w1, b1, w2, raw)
    if not st[SCORES_INIT]:
        avg[:] = raw
        st[SCORES_INIT] = 1.0
    else:
        for r in range(avg.shape[0]):
            avg[r] += cfg[C_LEVEL_SMOOTHING] * (raw[r] - avg[r])
    now = level_now(st, candidates)
    best = now
    best_s = -np.inf
    now_s = -np.inf
    now_in_range = False
    for r in range(candidates.shape[0]):
        if not cfg[C_BPM_LO] <= candidates[r, 0] * bpm <= cfg[C_BPM_HI]:
            continue
        if r == now:
            now_in_range = True
            if admitted[r]:
                now_s = avg[r]
        if admitted[r] and avg[r] > best_s:
            best = r
            best_s = avg[r]
    first = not st[LEVEL_DECIDED]
    st[LEVEL_DECIDED] = 1.0
    if best == now or best_s < now_s + cfg[C_LEVEL_MARGIN]:
        st[LEVEL_VOTES] = 0
        return
    if best == st[LEVEL_VOTE]:
        st[LEVEL_VOTES] += 1
    else:
        st[LEVEL_VOTE] = best
        st[LEVEL_VOTES] = 1
    if first or not now_in_range or st[LEVEL_VOTES] >= cfg[C_LEVEL_HOLD]:
        set_level(st, candidates, best, meter3, meter4)


@njit(cache=True, nogil=True)
def model_beat(st, cfg, steady_frames, hist, peak, visits, count, metre2, metre3, candidates,
               rows, admitted, raw, avg, scratch, w_mean, w_std, w1, b1, w2, meter3,
               meter4):  # pragma: no cover - compiled
    """A beat of the model: the breakdown grid, the accent patterns, the pulse level.

    The arrays are those of :func:`beat_hop`'s tuples (passed one by one: numba compiles
    functions that take big tuples of arrays many times slower).
    """
    if st[CONFIDENT_FRAMES] >= cfg[C_COAST_ARM_BEATS] * st[PERIOD]:
        steady_beat(st, cfg, steady_frames)
    slot = int(st[HMM_SLOT])
    pl.end_beat(hist, peak, visits, count, metre2, metre3, slot, cfg[C_NEW_WEIGHT],
                cfg[C_METRE_DECAY])
    st[HMM_SLOT] = (slot + 1) % peak.shape[0]
    st[HALF_FIRED] = 0.0
    choose_level(st, cfg, hist, visits, metre2, metre3, candidates, rows, admitted, raw, avg,
                 scratch, w_mean, w_std, w1, b1, w2, meter3, meter4)


@njit(cache=True, nogil=True)
def hop_end(st, cfg, peak, meter3, meter4, low_value, mid_value, high_value,
            model_beat):  # pragma: no cover - compiled
    """The second half of a hop: the beat reported at the chosen level, and the next one due.

    Returns True when a beat is reported in this hop.
    """
    n = st[HOP_N]
    p = st[HOP_P]
    slot = int(st[HMM_SLOT])
    pl.add(peak, slot, st[HOP_FRAC], st[HOP_ACT], low_value, mid_value, high_value)
    # The reported beat: the model's, every other one of them, or those and the midpoints.
    half = float(int(n / 2 + 0.5))
    on_half = not st[HALF_FIRED] and p >= half and not model_beat
    if on_half:
        st[HALF_FIRED] = 1.0
    level = st[LEVEL]
    parity = int(st[LEVEL_PARITY])
    if level == 2.0:
        fire = model_beat or on_half
    elif level == 0.5:
        fire = model_beat and (slot & 1) == parity
    else:
        fire = on_half if st[OFFBEAT] else model_beat
    beat = False
    if fire:
        if st[BEATING]:
            beat = True
            on_beat(st, cfg, meter3, meter4)
        else:  # silence or noise: keep time, fire nothing
            st[SINCE_BEAT] = 0
    # When the next reported beat is due [hops from now].
    to_next = n - p if p else n  # the model's next beat
    to_half = half - p if p < half else n - p + half  # its next midpoint
    if level == 2.0:
        to_next = min(to_next, to_half)
    elif level == 0.5 and ((slot + 1) & 1) != parity:
        to_next += n
    elif level == 1.0 and st[OFFBEAT]:
        to_next = to_half
    st[NEXT_BEAT_AT] = st[SINCE_BEAT] + to_next
    st[PREDICTED] = 1.0
    return beat


@njit(cache=True, nogil=True)
def beat_hop(st, cfg, hmm, bars, lv, model, onset_value, low_value, mid_value, high_value,
             level_db):  # pragma: no cover - compiled
    """One hop of the beat tracker.

    Parameters
    ----------
    st, cfg : float64 (N_STATE,), (N_CFG,)
        The state (updated) and the settings.
    hmm : tuple
        The beat-pointer model (:func:`liveai.dsp.beatstate.forward_step`): alpha, pred,
        offsets, intervals, beat_len, tm, tempo_weight, marg, info.
    bars : tuple
        beat_frames (n_ibi + 1,): the hops of the model's last beats; meter3 (3,), meter4 (4,):
        the low band at each reported beat by its position in cycles of 3 and 4 beats;
        steady_frames (2, n): the ring of :func:`steady_beat`.
    lv : tuple
        The metrical level (:mod:`liveai.dsp.pulse_level`): hist, peak, visits, count,
        metre2, metre3 (as :func:`liveai.dsp.pulse_level.end_beat`), candidates
        (n_candidates, 3), rows (n_candidates, N_FEATURES) and admitted (n_candidates,) (out:
        the features when ``st[ROWS_NEW]`` is set), raw and avg (n_candidates,): the scores
        of this beat and their running average; scratch (4, 4, N_BANDS).
    model : tuple
        The level model's mean, std, w1, b1, w2 (:func:`liveai.dsp.pulse_level.scores`).
    onset_value, low_value, mid_value, high_value : float
        This hop's rhythm detection function and low, mid and high onset functions.
    level_db : float
        This hop's RMS level, dBFS.

    Returns
    -------
    int
        HOP_BEAT when a beat is reported in this hop, HOP_QUIET when none is; HOP_EXTERNAL
        when an external clock runs the beat (the caller finishes the hop).
    """
    alpha, pred, offsets, intervals, beat_len, tm, tempo_weight, marg, info = hmm
    beat_frames, meter3, meter4, steady_frames = bars
    hist, peak, visits, count, metre2, metre3, candidates, rows, admitted, raw, avg, scratch = lv
    w_mean, w_std, w1, b1, w2 = model
    code = hop_start(st, cfg, alpha, pred, offsets, intervals, beat_len, tm, tempo_weight, marg,
                     info, beat_frames, meter3, meter4, onset_value, low_value, level_db)
    if code == HOP_EXTERNAL:
        return code
    at_model_beat = code == HOP_MODEL_BEAT
    if at_model_beat:
        model_beat(st, cfg, steady_frames, hist, peak, visits, count, metre2, metre3,
                   candidates, rows, admitted, raw, avg, scratch, w_mean, w_std, w1, b1, w2,
                   meter3, meter4)
    if hop_end(st, cfg, peak, meter3, meter4, low_value, mid_value, high_value, at_model_beat):
        return HOP_BEAT
    return HOP_QUIET
