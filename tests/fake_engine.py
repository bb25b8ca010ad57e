"""A stand-in for the analysis thread: FeatureFrames at a steady tempo in a real SharedRecord."""

from __future__ import annotations

import math
import threading
import time

from liveai.frame import SharedRecord, new_frame


class FakeEngine:
    """Publishes frames (tempo, beats, bars) every 10 ms, as the engine's analysis would.

    Parameters
    ----------
    bpm : float
    beats_per_bar : int
    """

    def __init__(self, bpm: float, beats_per_bar: int = 4) -> None:
        self.record = SharedRecord.create()
        self.bpm = bpm
        self.beats_per_bar = beats_per_bar
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def position(self, t: float) -> float:
        """The engine's beat position at monotonic ``t`` (bar lines at multiples of 4)."""
        return (t - self.t0) * self.bpm / 60.0

    def _run(self) -> None:
        frame = new_frame()
        n = self.beats_per_bar
        while not self._stop.wait(0.01):
            pos = self.position(time.monotonic())
            beat = math.floor(pos)
            frame["tempo_bpm"] = self.bpm
            frame["beat_count"] = beat
            frame["beat_phase"] = pos - beat
            frame["bar_count"] = beat // n
            frame["beat_in_bar"] = beat % n
            self.record.publish(frame)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.record.close()
