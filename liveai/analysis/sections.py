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
"""

from __future__ import annotations

import numpy as np

from liveai.frame import N_BANDS, SECTION_NAMES

#: Section codes carried in ``FeatureFrame.section`` (names in ``frame.SECTION_NAMES``).
UNKNOWN, BREAKDOWN, GROOVE, BUILD, DROP = range(len(SECTION_NAMES))

TICK_S = 0.25  # decisions four times a second
HISTORY_S = 30.0  # what "usual" means
CONFIRM_S = 1.5  # a new state must hold this long
MIN_DWELL_S = 4.0  # and a state lasts at least this long
DROP_MIN_S = 8.0  # a drop is a drop for at least this long before it can become groove


class SectionTracker:
    """Streaming section detector over FeatureFrames.

    Parameters
    ----------
    sample_rate_hz : int
    hop_length : int
        Samples per hop (one :meth:`process` call per hop).
    low_bands : int
        How many of the 8 bands count as "low end" (kick and bass).
    """

    def __init__(self, sample_rate_hz: int, hop_length: int, low_bands: int = 2) -> None:
        self.hop_s = hop_length / float(sample_rate_hz)
        self.low_bands = int(low_bands)
        self.n_hist = int(round(HISTORY_S / TICK_S))
        # Per-tick history (preallocated rings): loudness, low and high band dB, kick count.
        self._loud = np.full(self.n_hist, np.nan)
        self._low = np.full(self.n_hist, np.nan)
        self._high = np.full(self.n_hist, np.nan)
        self._bands = np.full((self.n_hist, N_BANDS), np.nan)
        self._kicks = np.zeros(self.n_hist)
        self._tops = np.zeros(self.n_hist)  # snare + hat onsets
        self.reset()

    def reset(self) -> None:
        """Forget everything."""
        self._loud[:] = np.nan
        self._low[:] = np.nan
        self._high[:] = np.nan
        self._bands[:] = np.nan
        self._kicks[:] = 0.0
        self._tops[:] = 0.0
        self._pos = 0
        self._ticks = 0
        self._t_since_tick = 0.0
        self._acc_loud = self._acc_low = self._acc_high = 0.0
        self._acc_bands = np.zeros(N_BANDS)
        self._acc_n = 0
        self._kick_count = -1
        self._top_count = -1
        self._kicks_this_tick = 0
        self._tops_this_tick = 0
        self.state = UNKNOWN
        self.count = 0
        self._candidate = UNKNOWN
        self._candidate_s = 0.0
        self._in_state_s = 0.0
        self._low_min = np.inf
        self.energy = 0.0
        self.novelty = 0.0

    def _ring(self, a: np.ndarray, seconds: float) -> np.ndarray:
        """The last ``seconds`` of a per-tick ring, oldest first."""
        n = min(int(round(seconds / TICK_S)), self._ticks, self.n_hist)
        idx = (self._pos - n + np.arange(n)) % self.n_hist
        return a[idx]

    def process(self, frame: np.ndarray) -> None:
        """Read this hop's fields; write energy, novelty, section, section_count into it."""
        bands = frame["band_db"]
        self._acc_loud += float(frame["momentary_lufs"])
        self._acc_low += float(np.max(bands[: self.low_bands]))
        self._acc_high += float(np.mean(bands[5:]))
        self._acc_bands += bands
        self._acc_n += 1
        kc = int(frame["band_onset_count"][0])
        if self._kick_count >= 0 and kc != self._kick_count:
            self._kicks_this_tick += kc - self._kick_count
        self._kick_count = kc
        tc = int(frame["band_onset_count"][1]) + int(frame["band_onset_count"][2])
        if self._top_count >= 0 and tc != self._top_count:
            self._tops_this_tick += tc - self._top_count
        self._top_count = tc
        self._t_since_tick += self.hop_s
        if self._t_since_tick >= TICK_S:
            self._t_since_tick -= TICK_S
            self._tick()
        frame["energy"] = self.energy
        frame["novelty"] = self.novelty
        frame["section"] = self.state
        frame["section_count"] = self.count

    def _tick(self) -> None:
        n = max(self._acc_n, 1)
        i = self._pos
        self._loud[i] = self._acc_loud / n
        self._low[i] = self._acc_low / n
        self._high[i] = self._acc_high / n
        self._bands[i] = self._acc_bands / n
        self._kicks[i] = self._kicks_this_tick
        self._tops[i] = self._tops_this_tick
        self._tops_this_tick = 0
        self._acc_loud = self._acc_low = self._acc_high = 0.0
        self._acc_bands[:] = 0.0
        self._acc_n = 0
        self._kicks_this_tick = 0
        self._pos = (self._pos + 1) % self.n_hist
        self._ticks += 1
        self._decide()

    def _decide(self) -> None:
        loud_hist = self._ring(self._loud, HISTORY_S)
        if len(loud_hist) < 8:  # two seconds before any judgement
            return
        ref_loud = float(np.nanpercentile(loud_hist, 90))
        ref_low = float(np.nanpercentile(self._ring(self._low, HISTORY_S), 90))
        loud_now = float(np.nanmean(self._ring(self._loud, 1.0)))
        low_now = float(np.nanmean(self._ring(self._low, 1.0)))
        kicks_2s = float(np.sum(self._ring(self._kicks, 2.0)))
        high4 = self._ring(self._high, 4.0)
        loud4 = self._ring(self._loud, 4.0)
        t4 = np.arange(len(high4)) * TICK_S
        high_slope = float(np.polyfit(t4, high4, 1)[0]) if len(high4) >= 8 else 0.0  # dB/s
        loud_slope = float(np.polyfit(t4, loud4, 1)[0]) if len(loud4) >= 8 else 0.0
        # Energy: loudness of the last second against the usual level (-18 dB .. +3 dB).
        self.energy = float(np.clip((loud_now - (ref_loud - 18.0)) / 21.0, 0.0, 1.0))
        # Novelty: how far the last second's band profile is from the 4 s before it.
        recent = np.nanmean(self._ring(self._bands, 1.0), axis=0)
        past = self._ring(self._bands, 5.0)[:-4]
        if len(past):
            self.novelty = float(np.clip(np.nanmean(np.abs(recent - np.nanmean(past, axis=0)))
                                         / 12.0, 0.0, 1.0))
        low_peak = float(np.nanmax(self._ring(self._low, 2.0)))
        tops_2s = float(np.sum(self._ring(self._tops, 2.0)))
        # A drum kit: kicks, plus snares or hats (a bass line alone also makes low onsets).
        drums = kicks_2s >= 2 and tops_2s >= 3 and low_peak > ref_low - 9.0
        self._low_min = min(self._low_min, low_now)
        quiet_low = low_now < ref_low - 4.0
        # The drop: after a build or a breakdown, the drums are back and the low end is back
        # near its usual level. Announced at once (it is the moment the lights hit).
        back = drums and low_now > ref_low - 3.0 and self._in_state_s >= MIN_DWELL_S
        if back and ((self.state == BUILD and high_slope < 0.3)  # the riser has stopped
                     or (self.state == BREAKDOWN and low_now - self._low_min >= 6.0)):
            self._switch(DROP)
            return
        if not drums and loud_now < ref_loud - 3.0:
            want = BREAKDOWN
        elif (high_slope > 0.6 or loud_slope > 0.5) and quiet_low:
            want = BUILD
        elif drums:
            want = DROP if self.state == DROP and self._in_state_s < DROP_MIN_S else GROOVE
            if self.state == DROP and loud_now > ref_loud - 2.0:
                want = DROP  # still at full energy: the drop goes on
        else:
            want = self.state
        self._in_state_s += TICK_S
        if want == self.state:
            self._candidate, self._candidate_s = want, 0.0
            return
        if want != self._candidate:
            self._candidate, self._candidate_s = want, 0.0
        self._candidate_s += TICK_S
        if self._candidate_s >= CONFIRM_S and (self._in_state_s >= MIN_DWELL_S
                                               or self.state == UNKNOWN):
            self._switch(want)

    def _switch(self, state: int) -> None:
        if state == self.state:
            return
        self.state = state
        self.count += 1
        self._candidate, self._candidate_s = state, 0.0
        self._in_state_s = 0.0
        self._low_min = np.inf
