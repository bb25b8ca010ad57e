"""The built-in demo groove: a synthesized track so liveai shows something without any input.

An endless arrangement of sections (intro, groove, build, drop, breakdown) with kick, snare, hats,
bass and pads, a riser and a crash into each drop, a swung half-tempo part, and tempo changes at
section boundaries (one build ramps its tempo bar by bar). Everything is rendered a bar at a time
with numpy from a seeded generator, so the audio is the same on every run and its beat times are
known exactly (:attr:`DemoGroove.beat_times_samples`) — the tests and the listening engine's
benchmarks use them as ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Section:
    """One part of the arrangement."""

    name: str  # intro, groove, build, drop, breakdown
    bars: int
    bpm_start: float
    bpm_end: float  # equal to bpm_start except for ramps
    kick: bool = True
    snare: bool = True
    hats: bool = True
    bass: bool = True
    pad: bool = True
    swing: float = 0.0  # 0 = straight; delays every odd 16th by this fraction of a 16th
    half_time: bool = False  # snare on beat 3 only
    riser: bool = False  # noise sweep rising to the next section
    crash: bool = False  # crash cymbal on the first beat


#: The arrangement, looped forever (92 bars, about 3 minutes per cycle).
ARRANGEMENT: tuple[Section, ...] = (
    Section("intro", 8, 122, 122, snare=False, bass=False),
    Section("groove", 16, 122, 122),
    Section("build", 8, 122, 126, bass=False, riser=True),
    Section("drop", 16, 126, 126, crash=True),
    Section("breakdown", 8, 126, 126, kick=False, snare=False, hats=False),
    Section("groove", 8, 100, 100, swing=0.3, half_time=True),
    Section("build", 4, 100, 100, riser=True, bass=False),
    Section("drop", 16, 128, 128, crash=True),
    Section("breakdown", 8, 128, 128, kick=False, snare=False, hats=False, bass=False),
)

# A minor: i - VI - III - VII (Am, F, C, G), as MIDI notes.
_CHORDS = ((57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62))
_ROOTS = (33, 29, 36, 31)


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


class DemoGroove:
    """Endless synthesized groove, read block by block.

    Parameters
    ----------
    sample_rate_hz : int
        Output rate.
    channels : int
        1 (mono) or 2 (stereo; the same mix with the hats and pads slightly panned).
    seed : int
        Seed of the noise generator (drums, risers).
    level_db : float
        Approximate RMS level of the full groove, dBFS.
    """

    def __init__(self, sample_rate_hz: int = 48000, channels: int = 2, seed: int = 7,
                 level_db: float = -14.0) -> None:
        if channels not in (1, 2):
            raise ValueError(f"the demo groove has 1 or 2 channels, not {channels}")
        self.sample_rate_hz = int(sample_rate_hz)
        self.channels = int(channels)
        self._rng = np.random.default_rng(seed)
        self._gain = 10.0 ** (level_db / 20.0) / 0.3  # the raw mix sits near 0.3 RMS
        self._bar_index = 0  # bars rendered since the start (across cycles)
        self._section_index = 0
        self._bar_in_section = 0
        self._sample_pos = 0  # absolute sample index of the next bar's start
        self._tail = np.zeros((0, 2), dtype=np.float32)  # ring-out of voices past a bar end
        self._queue: list[np.ndarray] = []
        self._queued = 0
        self._read_offset = 0  # samples of _queue[0] already handed out
        #: Absolute sample index of every beat rendered so far.
        self.beat_times_samples: list[int] = []
        #: (start sample, section name, bpm) of every section started so far.
        self.section_starts: list[tuple[int, str, float]] = []

    # -- public --------------------------------------------------------------------------------
    def read(self, n: int) -> np.ndarray:
        """Return the next ``n`` frames, shape (n, channels), float32."""
        while self._queued - self._read_offset < n:
            bar = self._render_bar()
            self._queue.append(bar)
            self._queued += bar.shape[0]
        out = np.empty((n, 2), dtype=np.float32)
        filled = 0
        while filled < n:
            head = self._queue[0]
            take = min(n - filled, head.shape[0] - self._read_offset)
            out[filled : filled + take] = head[self._read_offset : self._read_offset + take]
            filled += take
            self._read_offset += take
            if self._read_offset == head.shape[0]:
                self._queue.pop(0)
                self._queued -= head.shape[0]
                self._read_offset = 0
        return out[:, :1].copy() if self.channels == 1 else out

    @property
    def cycle_bars(self) -> int:
        """Bars in one pass through the arrangement."""
        return sum(s.bars for s in ARRANGEMENT)

    # -- rendering -----------------------------------------------------------------------------
    def _advance_section(self) -> Section:
        sec = ARRANGEMENT[self._section_index]
        if self._bar_in_section >= sec.bars:
            self._section_index = (self._section_index + 1) % len(ARRANGEMENT)
            self._bar_in_section = 0
            sec = ARRANGEMENT[self._section_index]
        return sec

    def _render_bar(self) -> np.ndarray:
        sec = self._advance_section()
        k = self._bar_in_section
        frac = k / max(sec.bars - 1, 1)
        bpm = sec.bpm_start + (sec.bpm_end - sec.bpm_start) * frac
        sr = self.sample_rate_hz
        beat_len = 60.0 / bpm * sr  # [s/beat] * [samples/s]
        bar_len = round(4 * beat_len)
        if k == 0:
            self.section_starts.append((self._sample_pos, sec.name, bpm))
        tail_len = int(2.5 * sr)
        buf = np.zeros((bar_len + tail_len, 2), dtype=np.float32)
        buf[: self._tail.shape[0]] += self._tail
        chord = self._bar_index % 4

        def at(beat: float) -> int:
            return round(beat * beat_len)

        for b in range(4):
            self.beat_times_samples.append(self._sample_pos + at(b))
        # Drums.
        if sec.kick:
            beats = (0, 2.5) if sec.half_time else (0, 1, 2, 3)
            for b in beats:
                self._add(buf, at(b), self._kick(), pan=0.0)
        if sec.snare:
            beats = (2,) if sec.half_time else (1, 3)
            for b in beats:
                self._add(buf, at(b), self._snare(), pan=0.05)
        if sec.hats:
            for s16 in range(16):
                beat = s16 / 4.0
                if s16 % 2 == 1:
                    beat += sec.swing * 0.25  # delay the off-16ths
                open_hat = s16 % 4 == 2 and not sec.half_time
                accent = 1.0 if s16 % 4 == 2 else 0.55
                self._add(buf, at(beat), self._hat(open_hat) * accent, pan=0.3)
        if sec.riser:
            self._add(buf, 0, self._riser(bar_len, k, sec.bars), pan=0.0)
            if k >= sec.bars - 2 and sec.snare:
                rolls = 8 if k == sec.bars - 2 else 16
                for i in range(rolls):
                    self._add(buf, at(i * 4.0 / rolls), self._snare() * (0.4 + 0.6 * i / rolls),
                              pan=0.05)
        if sec.crash and k == 0:
            self._add(buf, 0, self._crash(), pan=-0.2)
        # Tonal parts.
        if sec.bass:
            root = _ROOTS[chord]
            pattern = (0, 0.75, 1.5, 2, 2.75, 3.5) if not sec.half_time else (0, 1.5, 2.5, 3.25)
            for b in pattern:
                note = root + (12 if b in (1.5, 3.5) else 0)
                self._add(buf, at(b), self._bass(note, 0.3 * beat_len / sr), pan=0.0)
        if sec.pad:
            bright = 0.3 if sec.name == "breakdown" else 0.15
            self._add(buf, 0, self._pad(_CHORDS[chord], bar_len, bright), pan=-0.25)
        out = buf[:bar_len]
        self._tail = buf[bar_len:].copy()
        self._bar_index += 1
        self._bar_in_section += 1
        self._sample_pos += bar_len
        out = np.tanh(out * self._gain) if self._gain > 0 else out
        return out.astype(np.float32)

    @staticmethod
    def _add(buf: np.ndarray, start: int, voice: np.ndarray, pan: float) -> None:
        n = min(voice.shape[0], buf.shape[0] - start)
        if n <= 0:
            return
        left, right = 1.0 - max(pan, 0.0), 1.0 + min(pan, 0.0)
        buf[start : start + n, 0] += voice[:n] * left
        buf[start : start + n, 1] += voice[:n] * right

    def _t(self, seconds: float) -> np.ndarray:
        return np.arange(int(seconds * self.sample_rate_hz)) / self.sample_rate_hz

    def _kick(self) -> np.ndarray:
        t = self._t(0.45)
        f = 45.0 + 110.0 * np.exp(-t / 0.03)
        phase = 2 * np.pi * np.cumsum(f) / self.sample_rate_hz
        return (0.9 * np.sin(phase) * np.exp(-t / 0.18)).astype(np.float32)

    def _snare(self) -> np.ndarray:
        t = self._t(0.25)
        noise = np.diff(self._rng.standard_normal(t.shape[0] + 1))
        tone = np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.05)
        return (0.25 * noise * np.exp(-t / 0.07) + 0.35 * tone).astype(np.float32)

    def _hat(self, open_hat: bool) -> np.ndarray:
        t = self._t(0.3 if open_hat else 0.06)
        noise = np.diff(np.diff(self._rng.standard_normal(t.shape[0] + 2)))
        return (0.06 * noise * np.exp(-t / (0.09 if open_hat else 0.015))).astype(np.float32)

    def _crash(self) -> np.ndarray:
        t = self._t(2.0)
        noise = np.diff(self._rng.standard_normal(t.shape[0] + 1))
        return (0.12 * noise * np.exp(-t / 0.6)).astype(np.float32)

    def _riser(self, bar_len: int, bar: int, bars: int) -> np.ndarray:
        n = bar_len
        ramp = (bar + np.arange(n) / n) / bars  # 0..1 across the whole build
        noise = self._rng.standard_normal(n)
        hp = np.diff(noise, prepend=0.0)
        bright = noise * (1 - ramp) + hp * ramp  # brighter as it rises
        return (0.12 * bright * ramp**2).astype(np.float32)

    def _bass(self, note: int, dur_s: float) -> np.ndarray:
        t = self._t(dur_s + 0.05)
        f = _midi_hz(note)
        env = np.minimum(1.0, t / 0.005) * np.exp(-t / (dur_s * 0.8))
        return (0.35 * np.tanh(2.5 * np.sin(2 * np.pi * f * t)) * env).astype(np.float32)

    def _pad(self, chord: tuple[int, ...], bar_len: int, bright: float) -> np.ndarray:
        sr = self.sample_rate_hz
        n = bar_len + int(0.6 * sr)
        t = np.arange(n) / sr
        dur = bar_len / sr
        env = np.minimum(1.0, t / 0.4) * np.clip((dur + 0.6 - t) / 0.6, 0.0, 1.0)
        out = np.zeros(n)
        for note in chord:
            f = _midi_hz(note)
            for detune in (-0.004, 0.004):
                ph = 2 * np.pi * f * (1 + detune) * t
                out += np.sin(ph) + bright * np.sin(2 * ph) + 0.5 * bright * np.sin(3 * ph)
        return (0.035 * out * env).astype(np.float32)
