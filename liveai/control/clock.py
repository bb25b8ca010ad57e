"""Clocks shared between threads without locks: external tempo in, the engine's beat out.

- :class:`ExternalClock`: the latest ``(tempo, beat position, monotonic time)`` of a clock
  that liveai follows (Ableton Link, MIDI clock in). One thread (Link's poller, the MIDI
  thread) writes it; the analysis thread reads it once per hop and hands it to the beat
  tracker. A write replaces one immutable tuple (a reference swap, atomic in CPython), so the
  reader never waits and never sees half a state.
- :class:`EngineBeats`: the engine's own tempo and beat position, read from the shared record
  the analysis thread publishes and extrapolated to "now" (what MIDI clock out and Link in
  "lead" mode send).

Beat positions are floats in beats: the integer part counts beats, a multiple of the bar's
beats is a downbeat, the fraction is the phase within the beat.
"""

from __future__ import annotations

import math
import threading
import time
from typing import NamedTuple

import numpy as np

from liveai.frame import SharedRecord, new_frame

#: A followed clock that has not been heard from for this long is dropped (s).
DEFAULT_MAX_AGE_S = 1.0


class ClockReading(NamedTuple):
    """One reading of a clock.

    Attributes
    ----------
    tempo_bpm : float
    position_beats : float
        Beat position at ``time_s`` (integer = a beat; ≡ 0 mod beats per bar = a downbeat).
    time_s : float
        ``time.monotonic()`` the position belongs to.
    """

    tempo_bpm: float
    position_beats: float
    time_s: float

    def at(self, time_s: float) -> float:
        """The beat position at ``time_s``, assuming the tempo holds."""
        # [s] * [beats/min] / [60 s/min]
        return self.position_beats + (time_s - self.time_s) * self.tempo_bpm / 60.0


class ExternalClock:
    """An external tempo and beat position, written by one thread and read by another.

    Parameters
    ----------
    name : str
        ``link`` or ``midi``: for the log.
    max_age_s : float
        A reading older than this counts as gone (the peer left, the cable was pulled).
    """

    def __init__(self, name: str, max_age_s: float = DEFAULT_MAX_AGE_S) -> None:
        self.name = name
        self.max_age_s = float(max_age_s)
        self._reading: ClockReading | None = None
        #: Moves on every publish (a reader can tell a new reading from an extrapolated one).
        self.updates = 0

    def publish(self, tempo_bpm: float, position_beats: float,
                time_s: float | None = None) -> None:
        """Store a new reading (writer thread). Non-finite or non-positive tempi are ignored."""
        if not (math.isfinite(tempo_bpm) and tempo_bpm > 0.0 and math.isfinite(position_beats)):
            return
        t = time.monotonic() if time_s is None else float(time_s)
        self._reading = ClockReading(float(tempo_bpm), float(position_beats), t)
        self.updates += 1

    def release(self) -> None:
        """Stop being followed (the clock stopped, or the user turned it off)."""
        self._reading = None

    @property
    def reading(self) -> ClockReading | None:
        """The latest reading, whatever its age."""
        return self._reading

    def read(self, time_s: float | None = None) -> tuple[float, float] | None:
        """``(tempo_bpm, position_beats)`` extrapolated to ``time_s`` (default now).

        Returns
        -------
        tuple of float, or None
            None when nothing was published or the last reading is older than ``max_age_s``.
        """
        r = self._reading
        if r is None:
            return None
        t = time.monotonic() if time_s is None else time_s
        if t - r.time_s > self.max_age_s:
            return None
        return r.tempo_bpm, r.at(t)


class EngineBeats:
    """The engine's tempo and beat position, from its shared record, at any moment.

    The position is the bar-aligned beat index when the downbeat is known
    (``bar_count * beats_per_bar + beat_in_bar``), else the beat count, plus the beat phase,
    extrapolated from the moment the frame was published. It may step back a little when the
    tracker corrects itself; callers smooth that.

    Parameters
    ----------
    record : SharedRecord
        The engine's record (read-only here).
    beats_per_bar : int
    """

    def __init__(self, record: SharedRecord, beats_per_bar: int = 4) -> None:
        self.record = record
        self.beats_per_bar = int(beats_per_bar)
        # Link's and the MIDI clock's threads both read: each gets its own frame buffer.
        self._local = threading.local()

    @property
    def _frame(self) -> np.ndarray:
        frame = getattr(self._local, "frame", None)
        if frame is None:
            frame = self._local.frame = new_frame()
        return frame

    def read(self, time_s: float | None = None) -> ClockReading | None:
        """The engine's beat now, or None while it has no tempo (or no frame yet)."""
        f = self._frame
        if self.record.read(f) < 0:
            return None
        tempo = float(f["tempo_bpm"])
        published_ns = self.record.engine_heartbeat_ns
        if not (tempo > 0.0 and math.isfinite(tempo)) or published_ns == 0:
            return None
        phase = float(np.clip(f["beat_phase"], 0.0, 1.0))
        beat_in_bar = int(f["beat_in_bar"])
        if beat_in_bar >= 0:
            # the metre the tracker hears now (3/4 or 4/4), else the one given
            bpb = int(f["beats_per_bar"]) or self.beats_per_bar
            index = int(f["bar_count"]) * bpb + beat_in_bar
        else:
            index = int(f["beat_count"])
        reading = ClockReading(tempo, index + phase, published_ns / 1e9)
        t = time.monotonic() if time_s is None else time_s
        return ClockReading(tempo, reading.at(t), t)

    @property
    def metre(self) -> int:
        """Beats per bar the tracker heard at this thread's last read (else the one given)."""
        return int(self._frame["beats_per_bar"]) or self.beats_per_bar

    @property
    def downbeat_known(self) -> bool:
        """True once the tracker knows where the bar starts (from the last read)."""
        return int(self._frame["beat_in_bar"]) >= 0
