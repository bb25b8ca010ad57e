#!/usr/bin/env python3
"""Render a varied, annotated groove corpus through FluidSynth (General MIDI instruments).

For training and checking the beat tracker's metrical-level choice. Each groove is drawn at
random from one of nine styles, with its tempo, patterns, kit,
instruments, swing and humanisation drawn too:

=============  ===================================================================
house          four-on-the-floor 118-134 BPM, clap or snare on 2 and 4 (or none),
               off-beat open hats and/or 16th closed hats, off-beat or rolling bass
hiphop         boom-bap 80-100 BPM, 16ths swung 52-66 %, syncopated kicks, snare on
               2 and 4, ghost notes, 8th or 16th hats, keys
dnb            drum & bass 165-178 BPM, two-step kicks, snare on 2 and 4, ghosts,
               long bass notes
onedrop        reggae one-drop 64-86 BPM, kick and/or rim on beat 3, off-beat hats,
               skank on 2 and 4, organ bubble, a bass line that rests on 1
waltz          3/4 at 96-180 BPM, bass on 1, chords on 2 and 3, sometimes brushes
rubato         solo keys 66-112 BPM, tempo drifting smoothly by 8-18 %, notes on beats
breakdown      house, dnb or hiphop with an 8-bar drumless part (pads, sparse keys)
ramp           house or hiphop whose tempo ramps by 5-12 % up or down over the groove
click          a metronome 60-200 BPM in 3/4 or 4/4, accents on 1, on 1 and 3, on 2
               and 4 or none, in one of eight sound pairs
=============  ===================================================================

Written for each groove: ``NAME_dry.wav`` and ``NAME_hall.wav`` (1.2-2.2 s RT60 and crowd
noise 15-25 dB under the music, as ``render_grooves.py`` makes them) with ``NAME_*.beats``
(``time beat_in_bar``). Deterministic for a seed. Needs ``fluidsynth`` and a General MIDI
soundfont (Debian: ``apt-get install fluidsynth fluid-soundfont-gm``); a development tool,
not needed to run or test liveai.

Usage::

    .venv/bin/python scripts/render_midi_grooves.py OUT_DIR --count 48 --seed 1
    .venv/bin/liveai bench analysis --data OUT_DIR
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np
import soundfile as sf
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_grooves import const, crowd, hall_ir, time_map

SR = 44100
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
DRUMS = 9  # the General MIDI drum channel
TICKS_PER_S = 1920  # MIDI written at 120 BPM, 960 ticks per beat: events at absolute seconds

# General MIDI drum notes
KICK, RIM, SNARE, CLAP, SNARE2 = 36, 37, 38, 39, 40
HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE, SHAKER, TAMB = 42, 44, 46, 49, 51, 70, 54
KITS = (0, 8, 16, 24, 25, 32)  # standard, room, power, electronic, TR-808, jazz (bank 128)
BRUSH_KIT = 40

MINOR = ((57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62))  # Am F C G
MAJOR = ((60, 64, 67), (65, 69, 72), (67, 71, 74), (60, 64, 67))  # C F G C


@dataclass
class Groove:
    """A groove in beats: a tempo curve, a metre, notes (beat, channel, note, velocity, beats)."""

    name: str
    beats_per_bar: int
    bars: int
    bpm: Callable[[np.ndarray], np.ndarray]
    programs: dict[int, int] = field(default_factory=dict)  # channel -> GM program
    kit: int = 0
    notes: list[tuple[float, int, int, int, float]] = field(default_factory=list)
    jitter_s: float = 0.004

    def add(self, beat: float, channel: int, note: int, vel: float, dur_beats: float = 0.2):
        """A note at ``beat`` (0 = the first downbeat); velocity 0..1."""
        self.notes.append((beat, channel, int(note), int(np.clip(vel * 127, 1, 127)),
                           dur_beats))

    @property
    def n_beats(self) -> int:
        """Beats in the whole groove."""
        return self.bars * self.beats_per_bar

    def time_map(self) -> Callable[[np.ndarray], np.ndarray]:
        """Seconds at each beat position, integrating the tempo curve."""
        return time_map(self.bpm, self.n_beats)


def pos16(bar_beat: float, s16: int, swing: float) -> float:
    """Beat position of 16th ``s16`` of the bar starting at ``bar_beat``."""
    pair, odd = divmod(s16, 2)
    return bar_beat + pair * 0.5 + (swing * 0.5 if odd else 0.0)


# -- styles ----------------------------------------------------------------------------------
def _drums_four_floor(g: Groove, rng, bars, b_first: int = 0) -> None:
    clap = rng.choice([CLAP, SNARE, SNARE2, None], p=[0.45, 0.25, 0.1, 0.2])
    open_hats = rng.random() < 0.75
    closed16 = rng.random() < 0.6
    density = rng.uniform(0.4, 1.0)
    for bar in bars:
        b0 = bar * 4
        for q in range(4):
            g.add(b0 + q, DRUMS, KICK, rng.uniform(0.9, 1.0))
            if clap is not None and q in (1, 3):
                g.add(b0 + q, DRUMS, clap, rng.uniform(0.75, 0.95))
            if open_hats:
                g.add(b0 + q + 0.5, DRUMS, OPEN_HAT, rng.uniform(0.55, 0.8))
            if closed16:
                for h in (0.25, 0.75) if open_hats else (0.0, 0.25, 0.5, 0.75):
                    if rng.random() < density:
                        g.add(b0 + q + h, DRUMS, HAT, rng.uniform(0.3, 0.6))
            elif not open_hats:
                g.add(b0 + q + 0.5, DRUMS, HAT, rng.uniform(0.4, 0.7))
        if bar % 8 == 0 and rng.random() < 0.5:
            g.add(b0, DRUMS, CRASH, 0.7)


def _bass_house(g: Groove, rng, bars, chords) -> None:
    rolling = rng.random() < 0.35
    for bar in bars:
        root = chords[bar % 4][0] - 24
        for q in range(4):
            if rolling:
                for h in (0.25, 0.5, 0.75):
                    g.add(bar * 4 + q + h, 1, root + (12 if h == 0.5 else 0), 0.7, 0.2)
            else:
                g.add(bar * 4 + q + 0.5, 1, root + 12 * (q == 3), rng.uniform(0.75, 0.9), 0.35)


def _keys(g: Groove, rng, bars, chords, channel: int = 2, stabs: bool = True) -> None:
    style = rng.integers(3)
    for bar in bars:
        ch = chords[bar % 4]
        if style == 0:  # a held chord per bar
            for n in ch:
                g.add(bar * g.beats_per_bar, channel, n, 0.45, g.beats_per_bar * 0.9)
        elif style == 1 and stabs:  # syncopated stabs
            for b in (1.5, 2.75) if bar % 2 else (0.75,):
                for n in ch:
                    g.add(bar * g.beats_per_bar + b, channel, n + 12, 0.55, 0.2)
        # style 2: no keys


def house(rng, bars: int = 20) -> Groove:
    """Four-on-the-floor house."""
    g = Groove("house", 4, bars, const(rng.uniform(118, 134)))
    g.kit = int(rng.choice([0, 8, 16, 24, 25]))
    g.programs = {1: int(rng.choice([38, 39, 33, 87])), 2: int(rng.choice([4, 5, 16, 81, 89]))}
    chords = MINOR
    _drums_four_floor(g, rng, range(bars))
    _bass_house(g, rng, range(bars), chords)
    _keys(g, rng, range(bars), chords)
    return g


def _drums_hiphop(g: Groove, rng, bars, swing: float) -> None:
    pats = [(0, 3, 7, 10), (0, 6, 10, 11), (0, 7, 8, 14), (0, 3, 8, 11), (0, 10, 11),
            (0, 2, 7, 10, 13)]
    a, b = rng.choice(len(pats), 2)
    hats16 = rng.random() < 0.5
    snare = int(rng.choice([SNARE, SNARE2, CLAP], p=[0.6, 0.25, 0.15]))
    for bar in bars:
        b0 = bar * 4
        for k in pats[a if bar % 2 == 0 else b]:
            g.add(pos16(b0, k, swing), DRUMS, KICK, 0.95 if k == 0 else rng.uniform(0.7, 0.9))
        g.add(b0 + 1, DRUMS, snare, rng.uniform(0.9, 1.0))
        g.add(b0 + 3, DRUMS, snare, rng.uniform(0.9, 1.0))
        if rng.random() < 0.6:
            g.add(pos16(b0, int(rng.choice([5, 9, 13, 15])), swing), DRUMS, snare, 0.3)
        for h in range(16):
            if (hats16 and rng.random() < 0.8) or h % 2 == 0:
                g.add(pos16(b0, h, swing), DRUMS, HAT,
                      (0.75 if h % 4 == 0 else 0.5) * rng.uniform(0.75, 1.0))


def hiphop(rng, bars: int = 15) -> Groove:
    """Boom-bap with swung 16ths."""
    g = Groove("hiphop", 4, bars, const(rng.uniform(80, 100)), jitter_s=0.008)
    g.kit = int(rng.choice([0, 8, 25, 32]))
    g.programs = {1: int(rng.choice([33, 34, 38])), 2: int(rng.choice([0, 4, 5, 11]))}
    swing = rng.uniform(0.52, 0.66)
    _drums_hiphop(g, rng, range(bars), swing)
    chords = MINOR
    for bar in range(bars):
        root = chords[(bar // 2) % 4][0] - 24
        for k, d in ((0, 0.9), (7, 0.4), (10, 0.8)):
            g.add(pos16(bar * 4, k, swing), 1, root + (7 if k == 7 else 0), 0.8, d)
        if bar % 2 == 0:
            for n in chords[(bar // 2) % 4]:
                g.add(bar * 4, 2, n, 0.5, 2.0)
    return g


def _drums_dnb(g: Groove, rng, bars) -> None:
    kicks = [(0.0, 1.5), (0.0, 1.5, 2.75), (0.0, 2.5), (0.0, 0.75, 2.5)]
    k = kicks[rng.integers(len(kicks))]
    ride = rng.random() < 0.3
    for bar in bars:
        b0 = bar * 4
        for kb in k:
            g.add(b0 + kb, DRUMS, KICK, 0.95 if kb == 0 else 0.85)
        g.add(b0 + 1, DRUMS, SNARE, rng.uniform(0.9, 1.0))
        g.add(b0 + 3, DRUMS, SNARE, rng.uniform(0.9, 1.0))
        for gb in (2.25, 3.75) if bar % 2 else (0.75,):
            if rng.random() < 0.7:
                g.add(b0 + gb, DRUMS, SNARE, 0.3)
        for e in range(8):
            g.add(b0 + e * 0.5, DRUMS, RIDE if ride else HAT, rng.uniform(0.4, 0.7))


def dnb(rng, bars: int = 28) -> Groove:
    """Drum & bass."""
    g = Groove("dnb", 4, bars, const(rng.uniform(165, 178)))
    g.kit = int(rng.choice([0, 8, 16, 24]))
    g.programs = {1: int(rng.choice([38, 39, 87])), 2: int(rng.choice([89, 90, 50]))}
    _drums_dnb(g, rng, range(bars))
    for bar in range(0, bars, 2):
        root = MINOR[(bar // 2) % 4][0] - 24
        g.add(bar * 4, 1, root, 0.8, 5.0)
        for n in MINOR[(bar // 2) % 4]:
            g.add(bar * 4, 2, n, 0.35, 7.5)
    return g


def onedrop(rng, bars: int = 12) -> Groove:
    """Reggae one-drop: the kick drops on beat 3."""
    g = Groove("onedrop", 4, bars, const(rng.uniform(64, 86)), jitter_s=0.006)
    g.kit = int(rng.choice([0, 8, 32]))
    g.programs = {1: int(rng.choice([33, 34, 32])), 2: int(rng.choice([27, 28, 4])),
                  3: int(rng.choice([16, 17, 18]))}
    drop = rng.choice(["kick+rim", "kick", "kick+snare", "rim"], p=[0.5, 0.2, 0.2, 0.1])
    hats = rng.choice(["off8", "16", "trip"], p=[0.5, 0.3, 0.2])
    bubble = rng.random() < 0.5
    chords = ((57, 60, 64), (62, 65, 69))
    for bar in range(bars):
        b0 = bar * 4
        if "kick" in drop:
            g.add(b0 + 2, DRUMS, KICK, 0.9)
        if "rim" in drop:
            g.add(b0 + 2, DRUMS, RIM, 0.95)
        if "snare" in drop:
            g.add(b0 + 2, DRUMS, SNARE, 0.8)
        for q in range(4):
            if hats == "off8":
                g.add(b0 + q + 0.5, DRUMS, HAT, rng.uniform(0.45, 0.65))
            elif hats == "16":
                for h in (0.0, 0.25, 0.5, 0.75):
                    g.add(b0 + q + h, DRUMS, HAT, (0.55 if h == 0.5 else 0.3) * rng.uniform(0.8, 1))
            else:
                for h in (0.0, 1 / 3, 2 / 3):
                    g.add(b0 + q + h, DRUMS, HAT, (0.5 if h else 0.3) * rng.uniform(0.8, 1))
        ch = chords[bar % 2]
        for q in (1, 3):
            for n in ch:
                g.add(b0 + q, 2, n, rng.uniform(0.6, 0.75), 0.15)
        if bubble:
            for e in range(8):
                for n in ch:
                    g.add(b0 + e * 0.5, 3, n - 12, 0.35 if e % 2 else 0.25, 0.2)
        root = ch[0] - 24
        line = ((0.5, 0.4, 0), (0.75, 0.25, 0), (1.5, 0.4, 7), (2.5, 0.3, 12), (3.25, 0.4, 10))
        for b, d, n in line:
            if rng.random() < 0.9:
                g.add(b0 + b, 1, root + n, 0.85, d)
    return g


def waltz(rng, bars: int = 32) -> Groove:
    """3/4: bass on 1, chords on 2 and 3."""
    bpm = rng.uniform(96, 180)
    bars = int(round(40 * bpm / 60 / 3))
    g = Groove("waltz", 3, bars, const(bpm), jitter_s=0.006)
    g.programs = {1: int(rng.choice([0, 32, 58, 43])), 2: int(rng.choice([0, 21, 48, 4]))}
    brushes = rng.random() < 0.35
    if brushes:
        g.kit = BRUSH_KIT
    for bar in range(bars):
        b0 = bar * 3
        ch = MAJOR[(bar // 2) % 4]
        g.add(b0, 1, ch[0] - 24, 0.9, 0.9)
        for q in (1, 2):
            for n in ch:
                g.add(b0 + q, 2, n, 0.5 * rng.uniform(0.9, 1.1), 0.4)
        if brushes:
            g.add(b0, DRUMS, KICK, 0.6)
            g.add(b0 + 1, DRUMS, SNARE, 0.35)
            g.add(b0 + 2, DRUMS, SNARE, 0.35)
    return g


def rubato(rng, bars: int = 16) -> Groove:
    """Solo keys with a drifting tempo, notes on beats."""
    base = rng.uniform(66, 112)
    depth = rng.uniform(0.08, 0.18)
    p1, p2 = rng.uniform(0, 6.28, 2)
    per1, per2 = rng.uniform(16, 28), rng.uniform(6, 11)

    def bpm(b: np.ndarray) -> np.ndarray:
        return base * (1 + depth * (0.6 * np.sin(2 * np.pi * b / per1 + p1)
                                    + 0.4 * np.sin(2 * np.pi * b / per2 + p2)))

    bars = int(round(40 * base / 60 / 4))
    g = Groove("rubato", 4, bars, bpm, jitter_s=0.012)
    g.programs = {1: int(rng.choice([0, 1, 4, 46])), 2: int(rng.choice([0, 1, 4, 46]))}
    tune = rng.choice(np.array([69, 71, 72, 74, 76, 77, 79]), 32)
    chords = ((57, 60, 64), (55, 59, 62), (53, 57, 60), (52, 56, 59))
    for bar in range(bars):
        b0 = bar * 4
        ch = chords[bar % 4]
        g.add(b0, 1, ch[0] - 24, 0.85, 2.0)
        for q in range(4):
            g.add(b0 + q, 2, int(tune[(bar * 4 + q) % 32]), rng.uniform(0.5, 0.75), 0.9)
            if q and rng.random() < 0.7:
                for n in ch:
                    g.add(b0 + q, 1, n, 0.3 * rng.uniform(0.8, 1.1), 0.6)
            if rng.random() < 0.2:
                g.add(b0 + q + 0.5, 2, int(tune[(bar * 4 + q + 1) % 32]) - 2, 0.35, 0.4)
    return g


def breakdown(rng) -> Groove:
    """A groove with an 8-bar drumless breakdown in the middle."""
    kind = rng.choice(["house", "dnb", "hiphop"], p=[0.6, 0.2, 0.2])
    g = {"house": house, "dnb": dnb, "hiphop": hiphop}[kind](rng, bars=8)
    g.name = "breakdown"
    per_bar = 4
    g.bars = 24
    # Drums and bass of the first 8 bars again after 8 bars of pads and sparse keys.
    first = [n for n in g.notes]
    g.notes = first + [(b + 16 * per_bar, c, n, v, d) for b, c, n, v, d in first]
    g.programs[3] = int(rng.choice([88, 89, 91, 48]))
    for bar in range(8, 16):
        ch = MINOR[bar % 4]
        for n in ch:
            g.notes.append((bar * 4, 3, n, 80, 3.9))
        if bar % 2 == 0:
            for n in ch:
                g.notes.append((bar * 4, 2, n + 12, 60, 1.5))
    return g


def ramp(rng) -> Groove:
    """A house or hiphop groove whose tempo ramps up or down."""
    kind = rng.choice(["house", "hiphop"], p=[0.7, 0.3])
    bars = 24
    g = house(rng, bars) if kind == "house" else hiphop(rng, bars)
    start = float(g.bpm(np.zeros(1))[0])
    factor = rng.uniform(1.05, 1.12) ** rng.choice([-1, 1])
    n = bars * 4
    g.bpm = lambda b: start * (1 + (factor - 1) * np.clip(b / n, 0, 1))
    g.name = "ramp"
    return g


def click(rng) -> Groove:
    """A metronome: every beat is a beat, however fast or slow, accented or not."""
    bpm = float(np.exp(rng.uniform(np.log(60.0), np.log(200.0))))
    bpb = int(rng.choice([3, 4]))
    bars = int(round(36 * bpm / 60 / bpb))
    g = Groove("click", bpb, bars, const(bpm), jitter_s=0.0)
    g.kit = int(rng.choice(KITS))
    strong, weak = [(KICK, SNARE), (KICK, HAT), (76, 77), (RIM, RIM), (KICK, RIM), (KICK, KICK),
                    (SNARE, SNARE), (KICK, CLAP)][rng.integers(8)]  # 76/77: woodblocks
    accents = [(0,), (0, 2) if bpb == 4 else (0,), (), (1, 3) if bpb == 4 else (0,)][
        rng.integers(4)]
    for bar in range(bars):
        for q in range(bpb):
            hit = q in accents
            g.add(bar * bpb + q, DRUMS, strong if hit else weak, 1.0 if hit else 0.7)
    return g


STYLES = {"house": house, "hiphop": hiphop, "dnb": dnb, "onedrop": onedrop, "waltz": waltz,
          "rubato": rubato, "breakdown": breakdown, "ramp": ramp, "click": click}


# -- rendering -------------------------------------------------------------------------------
def to_midi(g: Groove, rng, path: Path) -> None:
    """Write the groove as a type-0 MIDI file with every event at its absolute time."""
    tmap = g.time_map()
    mid = mido.MidiFile(type=0, ticks_per_beat=960)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
    events = []
    for ch, prog in g.programs.items():
        events.append((0, 0, mido.Message("program_change", channel=ch, program=prog)))
    events.append((0, 0, mido.Message("program_change", channel=DRUMS, program=g.kit)))
    for beat, ch, note, vel, dur in g.notes:
        if beat >= g.n_beats:
            continue
        t0 = float(tmap(np.array([beat]))[0]) + rng.normal(0.0, g.jitter_s)
        t1 = float(tmap(np.array([beat + dur]))[0])
        t0 = max(t0, 0.0)
        on = int(round(t0 * TICKS_PER_S))
        off = max(on + 1, int(round(t1 * TICKS_PER_S)))
        events.append((on, 1, mido.Message("note_on", channel=ch, note=note, velocity=vel)))
        events.append((off, 0, mido.Message("note_off", channel=ch, note=note, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    now = 0
    for tick, _, msg in events:
        tr.append(msg.copy(time=tick - now))
        now = tick
    mid.save(str(path))


def render(g: Groove, rng, soundfont: Path) -> tuple[np.ndarray, np.ndarray]:
    """Audio (mono float64 at SR) and beats (time, beat in bar) of a groove."""
    with tempfile.TemporaryDirectory() as tmp:
        m, w = Path(tmp) / "g.mid", Path(tmp) / "g.wav"
        to_midi(g, rng, m)
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SR), "-F", str(w),
                        str(soundfont), str(m)], check=True, capture_output=True)
        x, sr = sf.read(str(w), dtype="float64", always_2d=True)
    assert sr == SR
    x = x.mean(axis=1)
    tmap = g.time_map()
    end = float(tmap(np.array([g.n_beats]))[0]) + 0.5
    x = x[: int(end * SR)]
    b = np.arange(g.n_beats)
    beats = np.stack([tmap(b), b % g.beats_per_bar + 1], axis=1)
    return x, beats


def write(out: Path, name: str, x: np.ndarray, beats: np.ndarray) -> None:
    """Write ``name.wav`` (peak at -1 dBFS) and ``name.beats``."""
    x = x * (10 ** (-1 / 20) / max(float(np.max(np.abs(x))), 1e-9))
    fade = int(0.2 * SR)
    x[-fade:] *= np.linspace(1.0, 0.0, fade)
    sf.write(str(out / f"{name}.wav"), x.astype(np.float32), SR, subtype="PCM_16")
    (out / f"{name}.beats").write_text("".join(f"{t:.6f} {int(b)}\n" for t, b in beats))


def main() -> None:
    """Render ``--count`` grooves, styles in turn, dry and in a hall."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="output folder")
    ap.add_argument("--count", type=int, default=16, help="grooves (styles taken in turn)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--styles", default=",".join(STYLES), help="comma-separated styles")
    ap.add_argument("--soundfont", type=Path, default=SOUNDFONT)
    args = ap.parse_args()
    if shutil.which("fluidsynth") is None or not args.soundfont.is_file():
        sys.exit("render_midi_grooves: needs fluidsynth and a GM soundfont "
                 "(apt-get install fluidsynth fluid-soundfont-gm)")
    args.out.mkdir(parents=True, exist_ok=True)
    styles = args.styles.split(",")
    for i in range(args.count):
        style = styles[i % len(styles)]
        rng = np.random.default_rng([args.seed, i])
        g = STYLES[style](rng)
        x, beats = render(g, rng, args.soundfont)
        name = f"{style}{i:03d}"
        write(args.out, f"{name}_dry", x, beats)
        rt60 = rng.uniform(1.2, 2.2)
        wet = signal.fftconvolve(x, hall_ir(seed=int(rng.integers(1 << 30)), rt60_s=rt60,
                                            drr_db=rng.uniform(-8.0, -2.0)))[: x.size]
        rms = math.sqrt(float(np.mean(wet ** 2)))
        noise_db = rng.uniform(-25.0, -15.0)
        noisy = wet + crowd(wet.size, seed=int(rng.integers(1 << 30))) * rms * 10 ** (noise_db / 20)
        write(args.out, f"{name}_hall", noisy, beats)
        tempo = 60.0 / float(np.median(np.diff(beats[:, 0])))
        print(f"{name}: {beats[-1, 0]:5.1f} s, {tempo:5.1f} BPM, {g.beats_per_bar}/4, "
              f"RT60 {rt60:.1f} s, crowd {noise_db:.0f} dB", flush=True)


if __name__ == "__main__":
    main()
