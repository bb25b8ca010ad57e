"""Sections, causally: energy and novelty curves, and build-ups, drops and breakdowns.

Every hop the tracker reads the fields the level, onset and beat analysers just wrote (loudness,
band energies, kick onsets) and, four times a second, decides the section state:

- **breakdown**: the drums are gone (no kick onsets for a while, the low band well below its
  usual level) and the music is quieter than its usual level;
- **build**: rising energy in the upper bands (risers, snare rolls) or rising loudness over the
  last seconds, while the low end is held back;
- **drop**: after a build or a breakdown, the drums and the low end are back at their usual level
  (announced at once: an *event* as well as a state);
- **groove**: the drums are there and nothing above applies.

"Usual level" is a high percentile of the last 30 s, so the tracker adapts to quiet and loud
rooms and to any mastering. A new state must hold for 1.5 s before it is announced (a drop is
announced at once, once the build or breakdown before it has lasted 4 s) and a state lasts at
least 4 s, so states do not flicker. Each
change moves ``section_count`` (an event, like the beat counter).

The whole tracker runs in one compiled call per hop (:func:`_section_hop`): its state lives in
preallocated arrays, and the per-tick statistics (percentiles, means, least-squares slopes over
a few seconds of ticks) are plain loops over at most 120 values, so no hop allocates anything
or waits on numpy's per-call overhead.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from liveai.frame import N_BANDS, SECTION_NAMES, new_frame

#: Section codes carried in ``FeatureFrame.section`` (names in ``frame.SECTION_NAMES``).
UNKNOWN, BREAKDOWN, GROOVE, BUILD, DROP = range(len(SECTION_NAMES))

TICK_S = 0.25  # decisions four times a second
HISTORY_S = 30.0  # what "usual" means
CONFIRM_S = 1.5  # a new state must hold this long
MIN_DWELL_S = 4.0  # and a state lasts at least this long
DROP_MIN_S = 8.0  # a drop is a drop for at least this long before it can become groove

# The tracker's scalar state: indexes into its float64 and int64 state arrays (numba reads
# module-level ints as compile-time constants).
_F_SINCE_TICK = 0  # seconds since the last tick
_F_ACC_LOUD = 1  # sums over the hops of this tick: momentary loudness, LUFS
_F_ACC_LOW = 2  # loudest low band, dB
_F_ACC_HIGH = 3  # mean of the top three bands, dB
_F_CANDIDATE_S = 4  # how long the candidate state has held, s
_F_IN_STATE_S = 5  # how long the current state has lasted, s
_F_LOW_MIN = 6  # quietest low end (1 s mean) since the current state began, dB
_F_ENERGY = 7
_F_NOVELTY = 8
_N_F = 9
_I_POS = 0  # next slot of the per-tick rings
_I_TICKS = 1  # ticks so far
_I_ACC_N = 2  # hops summed in this tick
_I_KICK_COUNT = 3  # last band_onset_count[0] seen, -1 before the first hop
_I_TOP_COUNT = 4  # last band_onset_count[1] + [2], -1 before the first hop
_I_KICKS = 5  # kick onsets in this tick
_I_TOPS = 6  # snare + hat onsets in this tick
_I_STATE = 7
_I_COUNT = 8  # section changes so far
_I_CANDIDATE = 9
_N_I = 10


class SectionTracker:
    """Streaming section detector over FeatureFrames.

    Parameters
    ----------
    sample_rate_hz : int
    hop_length : int
        Samples per hop (one :meth:`process` call per hop).
    low_bands : int
        How many of the 8 bands count as "low end" (kick and bass).

    Attributes
    ----------
    kernel_args : tuple
        :func:`_section_hop`'s arguments after ``frame``, gathered once.
    """

    def __init__(self, sample_rate_hz: int, hop_length: int, low_bands: int = 2) -> None:
        if not 1 <= low_bands <= N_BANDS:
            raise ValueError(f"low_bands {low_bands} is not in 1..{N_BANDS}")
        self.hop_s = hop_length / float(sample_rate_hz)
        self.low_bands = int(low_bands)
        self.n_hist = int(round(HISTORY_S / TICK_S))
        # Per-tick history (preallocated rings): loudness, low and high band dB, band profile,
        # kick and snare + hat onset counts.
        self._loud = np.full(self.n_hist, np.nan)
        self._low = np.full(self.n_hist, np.nan)
        self._high = np.full(self.n_hist, np.nan)
        self._bands = np.full((self.n_hist, N_BANDS), np.nan)
        self._kicks = np.zeros(self.n_hist)
        self._tops = np.zeros(self.n_hist)
        self._acc_bands = np.zeros(N_BANDS)  # band dB summed over the hops of this tick
        self._f = np.zeros(_N_F)  # scalar state, see the _F_ indexes
        self._i = np.zeros(_N_I, dtype=np.int64)  # see the _I_ indexes
        self._scratch = np.zeros(self.n_hist)  # for sorting (percentiles)
        self.kernel_args = (self.hop_s, self.low_bands, self._f, self._i, self._loud, self._low,
                            self._high, self._bands, self._kicks, self._tops, self._acc_bands,
                            self._scratch)
        self.reset()

    def reset(self) -> None:
        """Forget everything."""
        for a in (self._loud, self._low, self._high, self._bands):
            a[:] = np.nan
        self._kicks[:] = 0.0
        self._tops[:] = 0.0
        self._acc_bands[:] = 0.0
        self._f[:] = 0.0
        self._f[_F_LOW_MIN] = np.inf
        self._i[:] = 0
        self._i[_I_KICK_COUNT] = self._i[_I_TOP_COUNT] = -1
        self._i[_I_STATE] = self._i[_I_CANDIDATE] = UNKNOWN

    @property
    def state(self) -> int:
        """The current section code (UNKNOWN .. DROP)."""
        return int(self._i[_I_STATE])

    @property
    def count(self) -> int:
        """Section changes so far."""
        return int(self._i[_I_COUNT])

    @property
    def energy(self) -> float:
        """0..1: loudness of the last second against the usual (30 s) level."""
        return float(self._f[_F_ENERGY])

    @property
    def novelty(self) -> float:
        """0..1: change of the band profile, last 1 s against the 4 s before it."""
        return float(self._f[_F_NOVELTY])

    def process(self, frame: np.ndarray) -> None:
        """Read this hop's fields; write energy, novelty, section, section_count into it.

        Parameters
        ----------
        frame : np.ndarray
            A 0-d FRAME_DTYPE array; ``momentary_lufs``, ``band_db`` and ``band_onset_count``
            are read.
        """
        _section_hop(frame, *self.kernel_args)


@njit(cache=True, nogil=True)
def _section_hop(frame, hop_s, low_bands, f, st, loud, low, high, bands, kicks, tops, acc_bands,
                 scratch):  # pragma: no cover - compiled
    """One hop of :class:`SectionTracker`: accumulate, tick four times a second, write the frame.

    Parameters
    ----------
    frame : 0-d FRAME_DTYPE array
        Read: ``momentary_lufs``, ``band_db``, ``band_onset_count``; written: ``energy``,
        ``novelty``, ``section``, ``section_count``.
    hop_s : float
        Seconds per hop.
    low_bands : int
        The first ``low_bands`` bands are the low end.
    f : float64 (_N_F,), st : int64 (_N_I,)
        Scalar state (see the ``_F_`` and ``_I_`` indexes), updated in place.
    loud, low, high, kicks, tops : float64 (n_hist,)
        Per-tick rings, updated in place.
    bands : float64 (n_hist, n_bands)
        Per-tick band profile ring, dB.
    acc_bands : float64 (n_bands,)
        Band dB summed over this tick's hops.
    scratch : float64 (n_hist,)
    """
    r = frame[()]
    b = r.band_db
    f[_F_ACC_LOUD] += r.momentary_lufs
    low_db = b[0]
    for j in range(1, low_bands):
        low_db = max(low_db, b[j])
    f[_F_ACC_LOW] += low_db
    # The mean of the top three bands in float32, as numpy's mean of a float32 slice sums it.
    high_db = b[5] + b[6]
    high_db = high_db + b[7]
    f[_F_ACC_HIGH] += high_db / np.float32(3.0)
    for j in range(acc_bands.shape[0]):
        acc_bands[j] += b[j]
    st[_I_ACC_N] += 1
    kc = r.band_onset_count[0]
    if st[_I_KICK_COUNT] >= 0:
        st[_I_KICKS] += kc - st[_I_KICK_COUNT]
    st[_I_KICK_COUNT] = kc
    tc = r.band_onset_count[1] + r.band_onset_count[2]
    if st[_I_TOP_COUNT] >= 0:
        st[_I_TOPS] += tc - st[_I_TOP_COUNT]
    st[_I_TOP_COUNT] = tc
    f[_F_SINCE_TICK] += hop_s
    if f[_F_SINCE_TICK] >= TICK_S:
        f[_F_SINCE_TICK] -= TICK_S
        _tick(f, st, loud, low, high, bands, kicks, tops, acc_bands, scratch)
    r.energy = f[_F_ENERGY]
    r.novelty = f[_F_NOVELTY]
    r.section = st[_I_STATE]
    r.section_count = st[_I_COUNT]


@njit(cache=True, nogil=True)
def _tick(f, st, loud, low, high, bands, kicks, tops, acc_bands,
          scratch):  # pragma: no cover - compiled
    """Close this tick: its means into the rings, then decide the state."""
    n = max(st[_I_ACC_N], 1)
    i = st[_I_POS]
    loud[i] = f[_F_ACC_LOUD] / n
    low[i] = f[_F_ACC_LOW] / n
    high[i] = f[_F_ACC_HIGH] / n
    for j in range(acc_bands.shape[0]):
        bands[i, j] = acc_bands[j] / n
        acc_bands[j] = 0.0
    kicks[i] = st[_I_KICKS]
    tops[i] = st[_I_TOPS]
    f[_F_ACC_LOUD] = f[_F_ACC_LOW] = f[_F_ACC_HIGH] = 0.0
    st[_I_ACC_N] = st[_I_KICKS] = st[_I_TOPS] = 0
    st[_I_POS] = (i + 1) % loud.shape[0]
    st[_I_TICKS] += 1
    _decide(f, st, loud, low, high, bands, kicks, tops, scratch)


@njit(cache=True, nogil=True)
def _ticks_in(seconds, st, n_hist):  # pragma: no cover - compiled
    """How many ticks the last ``seconds`` of a ring hold (fewer while it fills)."""
    return min(int(round(seconds / TICK_S)), st[_I_TICKS], n_hist)


@njit(cache=True, nogil=True)
def _slot(st, n, k, n_hist):  # pragma: no cover - compiled
    """Ring index of the ``k``-th of the last ``n`` ticks, oldest first."""
    return (st[_I_POS] - n + k) % n_hist


@njit(cache=True, nogil=True)
def _ring_mean(a, st, seconds):  # pragma: no cover - compiled
    """Mean over the last ``seconds`` of ring ``a``, NaNs skipped (NaN if none is left)."""
    n = _ticks_in(seconds, st, a.shape[0])
    acc = 0.0
    m = 0
    for k in range(n):
        v = a[_slot(st, n, k, a.shape[0])]
        if not np.isnan(v):
            acc += v
            m += 1
    return acc / m if m else np.nan


@njit(cache=True, nogil=True)
def _ring_max(a, st, seconds):  # pragma: no cover - compiled
    """Largest value over the last ``seconds`` of ring ``a``, NaNs skipped."""
    n = _ticks_in(seconds, st, a.shape[0])
    best = np.nan
    for k in range(n):
        v = a[_slot(st, n, k, a.shape[0])]
        if not np.isnan(v) and (np.isnan(best) or v > best):
            best = v
    return best


@njit(cache=True, nogil=True)
def _ring_sum(a, st, seconds):  # pragma: no cover - compiled
    """Sum over the last ``seconds`` of ring ``a``."""
    n = _ticks_in(seconds, st, a.shape[0])
    acc = 0.0
    for k in range(n):
        acc += a[_slot(st, n, k, a.shape[0])]
    return acc


@njit(cache=True, nogil=True)
def _ring_slope(a, st, seconds):  # pragma: no cover - compiled
    """Least-squares slope (units per second) over the last ``seconds`` of ring ``a``.

    0 with fewer than 8 ticks. The closed form of a straight-line fit (what ``np.polyfit``
    solves with an SVD): ``sum((t - mean t)(y - mean y)) / sum((t - mean t)**2)``.
    """
    n = _ticks_in(seconds, st, a.shape[0])
    if n < 8:
        return 0.0
    t_mean = 0.5 * (n - 1) * TICK_S  # ticks at 0, TICK_S, ..., (n - 1) TICK_S
    y_mean = 0.0
    for k in range(n):
        y_mean += a[_slot(st, n, k, a.shape[0])]
    y_mean /= n
    sxy = 0.0
    sxx = 0.0
    for k in range(n):
        dt = k * TICK_S - t_mean
        sxy += dt * (a[_slot(st, n, k, a.shape[0])] - y_mean)
        sxx += dt * dt
    return sxy / sxx  # [dB] / [s]


@njit(cache=True, nogil=True)
def _ring_p90(a, st, scratch):  # pragma: no cover - compiled
    """90th percentile of the whole ring ``a`` (NaNs skipped), as ``np.nanpercentile`` does.

    Linear interpolation between the order statistics around ``0.9 (n - 1)``, with numpy's
    rounding-safe form of the interpolation.
    """
    n = _ticks_in(HISTORY_S, st, a.shape[0])
    m = 0
    for k in range(n):
        v = a[_slot(st, n, k, a.shape[0])]
        if not np.isnan(v):
            scratch[m] = v
            m += 1
    if m == 0:
        return np.nan
    s = scratch[:m]
    s.sort()
    virtual = (m - 1) * 0.9
    if virtual >= m - 1:
        return s[m - 1]
    lo = int(np.floor(virtual))
    t = virtual - lo
    lo_v, hi_v = s[lo], s[lo + 1]
    d = hi_v - lo_v
    return hi_v - d * (1.0 - t) if t >= 0.5 else lo_v + d * t


@njit(cache=True, nogil=True)
def _novelty(bands, st):  # pragma: no cover - compiled
    """How far the last second's band profile is from the 4 s before it, 0..1 (NaN: no past).

    The mean absolute difference of the band means (dB), over 12 dB.
    """
    n_hist, n_bands = bands.shape
    n_recent = _ticks_in(1.0, st, n_hist)
    n_all = _ticks_in(5.0, st, n_hist)
    n_past = max(n_all - 4, 0)  # the ticks of the last 5 s but the newest 4
    if n_past == 0:
        return np.nan
    acc = 0.0
    for j in range(n_bands):
        recent = 0.0
        for k in range(n_recent):
            recent += bands[_slot(st, n_recent, k, n_hist), j]
        past = 0.0
        for k in range(n_past):
            past += bands[_slot(st, n_all, k, n_hist), j]
        acc += abs(recent / n_recent - past / n_past)
    return min(max(acc / n_bands / 12.0, 0.0), 1.0)


@njit(cache=True, nogil=True)
def _decide(f, st, loud, low, high, bands, kicks, tops, scratch):  # pragma: no cover - compiled
    """Decide the section state from the per-tick rings (the rules in the module docstring)."""
    if _ticks_in(HISTORY_S, st, loud.shape[0]) < 8:  # two seconds before any judgement
        return
    ref_loud = _ring_p90(loud, st, scratch)
    ref_low = _ring_p90(low, st, scratch)
    loud_now = _ring_mean(loud, st, 1.0)
    low_now = _ring_mean(low, st, 1.0)
    kicks_2s = _ring_sum(kicks, st, 2.0)
    high_slope = _ring_slope(high, st, 4.0)  # dB/s
    loud_slope = _ring_slope(loud, st, 4.0)
    state = st[_I_STATE]
    in_state_s = f[_F_IN_STATE_S]
    # Energy: loudness of the last second against the usual level (-18 dB .. +3 dB).
    f[_F_ENERGY] = min(max((loud_now - (ref_loud - 18.0)) / 21.0, 0.0), 1.0)
    novelty = _novelty(bands, st)
    if not np.isnan(novelty):
        f[_F_NOVELTY] = novelty
    low_peak = _ring_max(low, st, 2.0)
    tops_2s = _ring_sum(tops, st, 2.0)
    # A drum kit: kicks, plus snares or hats (a bass line alone also makes low onsets).
    drums = kicks_2s >= 2 and tops_2s >= 3 and low_peak > ref_low - 9.0
    if low_now < f[_F_LOW_MIN]:
        f[_F_LOW_MIN] = low_now
    quiet_low = low_now < ref_low - 4.0
    # The drop: after a build or a breakdown, the drums are back and the low end is back
    # near its usual level. Announced at once (it is the moment the lights hit).
    back = drums and low_now > ref_low - 3.0 and in_state_s >= MIN_DWELL_S
    if back and ((state == BUILD and high_slope < 0.3)  # the riser has stopped
                 or (state == BREAKDOWN and low_now - f[_F_LOW_MIN] >= 6.0)):
        _switch(f, st, DROP)
        return
    if not drums and loud_now < ref_loud - 3.0:
        want = BREAKDOWN
    elif (high_slope > 0.6 or loud_slope > 0.5) and quiet_low:
        want = BUILD
    elif drums:
        want = DROP if state == DROP and in_state_s < DROP_MIN_S else GROOVE
        if state == DROP and loud_now > ref_loud - 2.0:
            want = DROP  # still at full energy: the drop goes on
    else:
        want = state
    f[_F_IN_STATE_S] += TICK_S
    if want == state:
        st[_I_CANDIDATE] = want
        f[_F_CANDIDATE_S] = 0.0
        return
    if want != st[_I_CANDIDATE]:
        st[_I_CANDIDATE] = want
        f[_F_CANDIDATE_S] = 0.0
    f[_F_CANDIDATE_S] += TICK_S
    if f[_F_CANDIDATE_S] >= CONFIRM_S and (f[_F_IN_STATE_S] >= MIN_DWELL_S or state == UNKNOWN):
        _switch(f, st, want)


@njit(cache=True, nogil=True)
def _switch(f, st, state):  # pragma: no cover - compiled
    """Announce ``state``: the counter moves, the dwell and candidate clocks restart."""
    if state == st[_I_STATE]:
        return
    st[_I_STATE] = state
    st[_I_COUNT] += 1
    st[_I_CANDIDATE] = state
    f[_F_CANDIDATE_S] = 0.0
    f[_F_IN_STATE_S] = 0.0
    f[_F_LOW_MIN] = np.inf


def warm_up() -> float:
    """Compile (or load from numba's cache) the tracker's kernels; return the seconds taken."""
    t0 = time.perf_counter()
    tr = SectionTracker(48000, 512)
    frame = new_frame()
    for _ in range(300):  # past the first ticks and decisions
        tr.process(frame)
    return time.perf_counter() - t0
