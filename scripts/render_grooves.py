#!/usr/bin/env python3
"""Render an annotated groove corpus for ``liveai bench analysis --data DIR``.

Sixteen files, deterministic (seeded), 44.1 kHz mono 16-bit WAV, each with ``NAME.beats``
(``time beat_in_bar`` per line, 1 = downbeat, the madmom / mir_eval convention that
``liveai bench analysis`` reads) and ``NAME.onsets`` (one time per line: every attack of a
drum, bass, piano, stab or chord; slow pad swells are not onsets). Eight grooves:

===============  ===================================================================
house124         four-on-the-floor, 124 BPM, clap on 2 and 4, off-beat open hats + bass
hiphop90         boom-bap, 90 BPM, 16ths swung 60 % (MPC), syncopated kick, ghost snares
dnb174           drum & bass, 174 BPM, kick on 1 and the "and" of 2, snare on 2 and 4
onedrop75        reggae one-drop, 75 BPM, kick + rim on beat 3 only, hats on off-beats,
                 skank on 2 and 4
waltz150         3/4 at 150 BPM, bass on 1, chords on 2 and 3, no drums
rubato           piano-like, ~92 BPM drifting smoothly by up to ±15 %, notes on beats
breakdown128     128 BPM house, 8 bars groove, 8 bars drumless breakdown (pads and a
                 sparse piano), 8 bars groove
ramp120-132      house groove ramping 120 -> 132 BPM (linear in beats) over 32 bars
===============  ===================================================================

Each is written dry (``NAME_dry``) and in a hall (``NAME_hall``): convolved with a synthetic
1.8 s RT60 room response (direct sound plus exponentially decaying noise, highs decaying
faster, direct-to-reverberant ratio about -4 dB) and with crowd noise (pink noise plus
babble-like syllable-modulated noise) at -20 dB relative to the reverberant music. The
annotations are the same for both: the direct sound arrives at time 0 of the response.

Usage::

    .venv/bin/python scripts/render_grooves.py [OUT_DIR]      # default .cache/grooves
    .venv/bin/liveai bench analysis --data .cache/grooves
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

SR = 44100
TAIL_S = 0.5  # after the last bar: short, so a tracker is not scored on beats fired into silence


# -- voices ----------------------------------------------------------------------------------
def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def kick(rng: np.random.Generator, vel: float = 1.0) -> np.ndarray:
    """Sine kick with a fast pitch drop and a short click."""
    t = _t(0.45)
    f = 48.0 + 120.0 * np.exp(-t / 0.028)
    body = np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / 0.17)
    click = rng.standard_normal(t.size) * np.exp(-t / 0.002) * 0.3
    return vel * 0.9 * (body + click)


def snare(rng: np.random.Generator, vel: float = 1.0, tone_hz: float = 185.0) -> np.ndarray:
    """Noise burst plus a tuned body."""
    t = _t(0.25)
    noise = np.diff(rng.standard_normal(t.size + 1)) * np.exp(-t / 0.065)
    tone = np.sin(2 * np.pi * tone_hz * t) * np.exp(-t / 0.045)
    return vel * (0.28 * noise + 0.4 * tone)


def clap(rng: np.random.Generator, vel: float = 1.0) -> np.ndarray:
    """Three quick band-passed noise bursts."""
    t = _t(0.3)
    sos = signal.butter(2, [900.0, 5000.0], btype="bandpass", fs=SR, output="sos")
    noise = signal.sosfilt(sos, rng.standard_normal(t.size))
    env = np.exp(-t / 0.06)
    for d in (0.0, 0.011, 0.022):
        env = env + (t >= d) * np.exp(-np.maximum(t - d, 0.0) / 0.004)
    return vel * 0.5 * noise * env


def rim(rng: np.random.Generator, vel: float = 1.0) -> np.ndarray:
    """Cross-stick / rim shot: a short high tone and click."""
    t = _t(0.08)
    tone = np.sin(2 * np.pi * 820.0 * t) + 0.6 * np.sin(2 * np.pi * 1730.0 * t)
    click = np.diff(rng.standard_normal(t.size + 1))
    return vel * (0.3 * tone + 0.15 * click) * np.exp(-t / 0.012)


def hat(rng: np.random.Generator, vel: float = 1.0, open_hat: bool = False) -> np.ndarray:
    """High-passed noise, closed or open."""
    t = _t(0.35 if open_hat else 0.07)
    noise = np.diff(np.diff(rng.standard_normal(t.size + 2)))
    return vel * 0.07 * noise * np.exp(-t / (0.1 if open_hat else 0.016))


def bass(rng: np.random.Generator, note: float, dur_s: float, vel: float = 1.0) -> np.ndarray:
    """Saturated sine bass with a 5 ms attack."""
    t = _t(dur_s + 0.06)
    env = np.minimum(1.0, t / 0.005) * np.clip((dur_s + 0.06 - t) / 0.06, 0.0, 1.0)
    env *= np.exp(-t / max(dur_s, 0.05))
    return vel * 0.4 * np.tanh(2.2 * np.sin(2 * np.pi * _midi_hz(note) * t)) * env


def reese(rng: np.random.Generator, note: float, dur_s: float, vel: float = 1.0) -> np.ndarray:
    """Detuned low-passed saws (drum & bass bass)."""
    t = _t(dur_s + 0.05)
    f = _midi_hz(note)
    x = sum(signal.sawtooth(2 * np.pi * f * (1 + d) * t + p)
            for d, p in ((-0.006, 0.0), (0.006, 1.3), (0.0, 2.1)))
    x = signal.sosfilt(signal.butter(2, 600.0, fs=SR, output="sos"), x)
    env = np.minimum(1.0, t / 0.01) * np.clip((dur_s + 0.05 - t) / 0.05, 0.0, 1.0)
    return vel * 0.25 * x * env


def piano(rng: np.random.Generator, notes: tuple[float, ...], vel: float = 1.0,
          dur_s: float = 1.5) -> np.ndarray:
    """Additive piano-like tone: slightly inharmonic partials, faster decay up high, a hammer."""
    t = _t(dur_s + 0.15)
    out = np.zeros(t.size)
    for note in notes:
        f0 = _midi_hz(note)
        decay = 1.2 * (440.0 / f0) ** 0.35
        for k in range(1, 9):
            fk = k * f0 * math.sqrt(1 + 0.0004 * k * k)
            if fk > 0.45 * SR:
                break
            out += (k ** -1.3) * np.sin(2 * np.pi * fk * t + rng.uniform(0, 6.28)) \
                * np.exp(-t * k ** 0.7 / decay)
    hammer = signal.sosfilt(signal.butter(2, 2500.0, btype="highpass", fs=SR, output="sos"),
                            rng.standard_normal(t.size)) * np.exp(-t / 0.004)
    release = np.clip((dur_s + 0.15 - t) / 0.15, 0.0, 1.0)
    attack = np.minimum(1.0, t / 0.002)
    return vel * (0.12 * out / max(len(notes), 1) ** 0.5 + 0.05 * hammer) * attack * release


def stab(rng: np.random.Generator, notes: tuple[float, ...], vel: float = 1.0,
         dur_s: float = 0.15) -> np.ndarray:
    """Short bright chord (reggae skank, house stab)."""
    t = _t(dur_s + 0.03)
    x = sum(signal.square(2 * np.pi * _midi_hz(n) * t + rng.uniform(0, 6.28), 0.3) for n in notes)
    x = signal.sosfilt(signal.butter(2, [400.0, 3500.0], btype="bandpass", fs=SR,
                                     output="sos"), x)
    env = np.minimum(1.0, t / 0.002) * np.exp(-t / (0.4 * dur_s))
    return vel * 0.12 * x * env


def pad(rng: np.random.Generator, notes: tuple[float, ...], dur_s: float,
        vel: float = 1.0) -> np.ndarray:
    """Slow-attack detuned pad (not an onset)."""
    t = _t(dur_s + 0.5)
    x = np.zeros(t.size)
    for n in notes:
        for d in (-0.004, 0.004):
            ph = 2 * np.pi * _midi_hz(n) * (1 + d) * t + rng.uniform(0, 6.28)
            x += np.sin(ph) + 0.2 * np.sin(2 * ph)
    env = np.minimum(1.0, t / 0.5) * np.clip((dur_s + 0.5 - t) / 0.5, 0.0, 1.0)
    return vel * 0.03 * x * env


# -- scores ----------------------------------------------------------------------------------
@dataclass
class Score:
    """A groove in beats: tempo curve, metre and events (beat position, voice, onset?)."""

    name: str
    bars: int
    beats_per_bar: int
    bpm: Callable[[np.ndarray], np.ndarray]  # tempo at a (fractional) beat position
    seed: int
    events: list[tuple[float, Callable[..., np.ndarray], dict, bool]] = field(default_factory=list)

    def add(self, beat: float, voice: Callable[..., np.ndarray], onset: bool = True,
            **kw) -> None:
        """Schedule ``voice(rng, **kw)`` at ``beat`` (0 = the first downbeat)."""
        self.events.append((beat, voice, kw, onset))

    @property
    def n_beats(self) -> int:
        """Beats in the whole groove."""
        return self.bars * self.beats_per_bar

    def time_map(self) -> Callable[[np.ndarray], np.ndarray]:
        """Seconds at each beat position, integrating the tempo curve."""
        return time_map(self.bpm, self.n_beats)


def time_map(bpm: Callable[[np.ndarray], np.ndarray],
             n_beats: int) -> Callable[[np.ndarray], np.ndarray]:
    """Seconds at each beat position (up to 4 beats past ``n_beats``) of a tempo curve."""
    b = np.linspace(0.0, n_beats + 4.0, 200 * (n_beats + 4) + 1)
    mid = 0.5 * (b[1:] + b[:-1])
    t = np.concatenate([[0.0], np.cumsum(60.0 / bpm(mid) * np.diff(b))])
    return lambda beats: np.interp(beats, b, t)


def const(bpm: float) -> Callable[[np.ndarray], np.ndarray]:
    """A constant tempo curve."""
    return lambda b: np.full(np.shape(b), float(bpm))


AM = ((57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62))  # Am F C G
AM_ROOTS = (33, 29, 36, 31)


def four_floor(s: Score, bars: range, rng: np.random.Generator, stabs: bool = False) -> None:
    """House drums, off-beat bass and a pad over ``bars`` of ``s``."""
    for bar in bars:
        b0 = bar * 4
        ch = bar % 4
        for q in range(4):
            s.add(b0 + q, kick, vel=rng.uniform(0.95, 1.0))
            s.add(b0 + q + 0.5, hat, open_hat=True, vel=rng.uniform(0.7, 0.9))
            s.add(b0 + q + 0.5, bass, note=AM_ROOTS[ch] + 12 * (q == 3), dur_s=0.18)
            for h in (0.25, 0.75):
                s.add(b0 + q + h, hat, vel=rng.uniform(0.3, 0.5))
        s.add(b0 + 1, clap)
        s.add(b0 + 3, clap)
        s.add(b0, pad, onset=False, notes=AM[ch], dur_s=3.5 * 60 / 124)
        if stabs and bar % 2 == 1:
            s.add(b0 + 2.75, stab, notes=AM[ch], vel=0.8)


def house124() -> Score:
    """Four-on-the-floor house, 124 BPM, 20 bars."""
    s = Score("house124", 20, 4, const(124), seed=1)
    four_floor(s, range(20), np.random.default_rng(101), stabs=True)
    return s


def hiphop90() -> Score:
    """Boom-bap at 90 BPM with 16ths swung 60 %, 15 bars."""
    s = Score("hiphop90", 15, 4, const(90), seed=2)
    rng = np.random.default_rng(102)
    swing = 0.6

    def pos(bar: int, s16: int) -> float:  # beat position of a (swung) 16th
        pair, odd = divmod(s16, 2)
        return bar * 4 + pair * 0.5 + (swing * 0.5 if odd else 0.0)

    for bar in range(15):
        ch = (bar // 2) % 4
        kicks = (0, 3, 7, 10) if bar % 2 == 0 else (0, 6, 10, 11)
        for k in kicks:
            s.add(pos(bar, k), kick, vel=0.95 if k == 0 else 0.8)
        s.add(pos(bar, 4), snare, vel=1.0)
        s.add(pos(bar, 12), snare, vel=1.0)
        s.add(pos(bar, 15 if bar % 2 else 9), snare, vel=0.3)  # ghost note
        for h in range(16):
            if h % 2 == 0 or rng.random() < 0.5:
                s.add(pos(bar, h), hat, vel=(0.8 if h % 4 == 0 else 0.5) * rng.uniform(0.8, 1))
        for k, dur in ((0, 0.5), (7, 0.3), (10, 0.6)):
            s.add(pos(bar, k), bass, note=AM_ROOTS[ch] + (7 if k == 7 else 0), dur_s=dur)
        if bar % 2 == 0:
            s.add(pos(bar, 0), piano, notes=AM[ch], vel=0.6, dur_s=2.0)
            s.add(pos(bar, 6), piano, notes=tuple(n + 12 for n in AM[ch][1:]), vel=0.35,
                  dur_s=0.6)
    return s


def dnb174() -> Score:
    """Drum & bass at 174 BPM, 28 bars."""
    s = Score("dnb174", 28, 4, const(174), seed=3)
    rng = np.random.default_rng(103)
    for bar in range(28):
        b0 = bar * 4
        ch = (bar // 2) % 4
        s.add(b0, kick)
        s.add(b0 + 1.5, kick, vel=0.85)
        if bar % 4 == 3:
            s.add(b0 + 2.75, kick, vel=0.7)
        s.add(b0 + 1, snare, vel=1.0, tone_hz=210.0)
        s.add(b0 + 3, snare, vel=1.0, tone_hz=210.0)
        for g in (2.25, 3.75) if bar % 2 else (0.75,):
            s.add(b0 + g, snare, vel=0.25, tone_hz=210.0)
        for e in range(8):
            s.add(b0 + e * 0.5, hat, open_hat=e == 5, vel=rng.uniform(0.4, 0.7))
        if bar % 2 == 0:
            s.add(b0, reese, note=AM_ROOTS[ch], dur_s=1.3 * 60 / 174 * 4)
            s.add(b0, pad, onset=False, notes=AM[ch], dur_s=2 * 4 * 60 / 174)
    return s


def onedrop75() -> Score:
    """Reggae one-drop at 75 BPM, 12 bars."""
    s = Score("onedrop75", 12, 4, const(75), seed=4)
    rng = np.random.default_rng(104)
    chords = ((57, 60, 64), (62, 65, 69))  # Am, Dm
    roots = (45, 38)
    for bar in range(12):
        b0 = bar * 4
        ch = bar % 2
        s.add(b0 + 2, kick, vel=0.9)
        s.add(b0 + 2, rim, vel=1.0)
        for q in range(4):
            s.add(b0 + q + 0.5, hat, vel=rng.uniform(0.5, 0.7))
        for q in (1, 3):
            s.add(b0 + q, stab, notes=chords[ch], vel=0.9, dur_s=0.12)
        for b, d, n in ((0.0, 0.6, 0), (0.75, 0.25, 0), (1.5, 0.4, 7), (2.5, 0.3, 12),
                        (3.25, 0.4, 10)):
            s.add(b0 + b, bass, note=roots[ch] - 12 + n, dur_s=d)
    return s


def waltz150() -> Score:
    """A 3/4 waltz at 150 BPM: bass on 1, chords on 2 and 3, no drums; 32 bars."""
    s = Score("waltz150", 32, 3, const(150), seed=5)
    chords = ((60, 64, 67), (60, 65, 69), (59, 62, 67), (60, 64, 67))  # C F G C
    roots = (36, 41, 43, 36)
    rng = np.random.default_rng(105)
    melody = (76, 77, 79, 76, 74, 72, 71, 72)
    for bar in range(32):
        b0 = bar * 3
        ch = (bar // 2) % 4
        s.add(b0, piano, notes=(roots[ch],), vel=1.0, dur_s=1.0)
        s.add(b0 + 1, piano, notes=chords[ch], vel=0.55 * rng.uniform(0.9, 1.1), dur_s=0.35)
        s.add(b0 + 2, piano, notes=chords[ch], vel=0.5 * rng.uniform(0.9, 1.1), dur_s=0.35)
        if bar % 2 == 0:
            s.add(b0, piano, notes=(melody[(bar // 2) % 8],), vel=0.6, dur_s=1.1)
    return s


def rubato() -> Score:
    """Piano-like passage, notes on beats, tempo drifting smoothly around 92 BPM by ±15 %."""
    def bpm(b: np.ndarray) -> np.ndarray:
        drift = 0.6 * np.sin(2 * np.pi * b / 23.0 + 0.4) + 0.4 * np.sin(2 * np.pi * b / 9.0 + 2.0)
        return 92.0 * (1 + 0.15 * drift)

    s = Score("rubato", 16, 4, bpm, seed=6)
    rng = np.random.default_rng(106)
    chords = ((57, 60, 64), (55, 59, 62), (53, 57, 60), (52, 56, 59))  # Am G F E
    roots = (45, 43, 41, 40)
    tune = (69, 71, 72, 74, 76, 74, 72, 71, 69, 68, 69, 71, 72, 71, 69, 68)
    for bar in range(16):
        b0 = bar * 4
        ch = bar % 4
        s.add(b0, piano, notes=(roots[ch] - 12, roots[ch]), vel=0.9, dur_s=2.0)
        for q in range(4):
            s.add(b0 + q, piano, notes=(tune[(bar * 4 + q) % 16],),
                  vel=rng.uniform(0.5, 0.75) * (1.2 if q == 0 else 1.0), dur_s=0.9)
            if q in (1, 2, 3):
                s.add(b0 + q, piano, notes=chords[ch], vel=0.3 * rng.uniform(0.8, 1.1),
                      dur_s=0.6)
    return s


def breakdown128() -> Score:
    """128 BPM: 8 bars of groove, an 8-bar drumless breakdown, 8 bars of groove."""
    s = Score("breakdown128", 24, 4, const(128), seed=7)
    rng = np.random.default_rng(107)
    four_floor(s, range(8), rng)
    for bar in range(8, 16):
        ch = bar % 4
        s.add(bar * 4, pad, onset=False, notes=AM[ch], dur_s=4 * 60 / 128, vel=1.6)
        if bar % 2 == 0:
            s.add(bar * 4, piano, notes=tuple(n + 12 for n in AM[ch]), vel=0.5, dur_s=2.5)
    four_floor(s, range(16, 24), rng, stabs=True)
    return s


def ramp120_132() -> Score:
    """House groove ramping 120 -> 132 BPM over 32 bars (linear in beats)."""
    s = Score("ramp120-132", 32, 4, lambda b: 120.0 + 12.0 * np.clip(b / 128.0, 0, 1),
              seed=8)
    four_floor(s, range(32), np.random.default_rng(108), stabs=True)
    return s


GROOVES = (house124, hiphop90, dnb174, onedrop75, waltz150, rubato, breakdown128, ramp120_132)


# -- rendering -------------------------------------------------------------------------------
def render(s: Score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render a score.

    Returns
    -------
    audio : np.ndarray
        Mono float64 at :data:`SR`.
    beats : np.ndarray, shape (n, 2)
        Beat time [s] and beat in bar (1 = downbeat).
    onsets : np.ndarray
        Onset times [s] (attacks closer than 30 ms merged).
    """
    rng = np.random.default_rng(s.seed)
    tmap = s.time_map()
    end_s = float(tmap(np.array([s.n_beats]))[0])
    x = np.zeros(int((end_s + TAIL_S) * SR))
    onsets = []
    for beat, voice, kw, is_onset in sorted(s.events, key=lambda e: e[0]):
        t0 = float(tmap(np.array([beat]))[0])
        v = voice(rng, **kw)
        i = round(t0 * SR)
        n = min(v.size, x.size - i)
        x[i : i + n] += v[:n]
        if is_onset:
            onsets.append(t0)
    b = np.arange(s.n_beats)
    beats = np.stack([tmap(b), b % s.beats_per_bar + 1], axis=1)
    onsets = np.unique(np.round(onsets, 6))
    merged = [onsets[0]]
    for o in onsets[1:]:
        if o - merged[-1] >= 0.03:
            merged.append(o)
    return x, beats, np.array(merged)


def hall_ir(seed: int, rt60_s: float = 1.8, drr_db: float = -4.0) -> np.ndarray:
    """Direct sound plus exponentially decaying noise: lows at ``rt60_s``, highs decay faster."""
    rng = np.random.default_rng(seed)
    n = int(1.2 * rt60_s * SR)
    t = np.arange(n) / SR
    lo_sos = signal.butter(2, 2000.0, fs=SR, output="sos")
    noise = rng.standard_normal(n)
    lo = signal.sosfilt(lo_sos, noise)
    hi = noise - lo
    tail = lo * np.exp(-6.9078 * t / rt60_s) + hi * np.exp(-6.9078 * t / (0.6 * rt60_s))
    pre = int(0.012 * SR)  # first reflections after 12 ms, building up over 40 ms
    tail[:pre] = 0.0
    tail[pre:] *= np.minimum((t[pre:] - t[pre]) / 0.04, 1.0)
    tail *= math.sqrt(10 ** (-drr_db / 10) / float(np.sum(tail ** 2)))
    tail[0] = 1.0
    return tail


def crowd(n: int, seed: int) -> np.ndarray:
    """Pink noise plus babble (speech-band noise, syllable-rate envelopes), unit RMS."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SR)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0.0
    pink = np.fft.irfft(spec, n)
    pink /= np.sqrt(np.mean(pink ** 2))
    babble = np.zeros(n)
    for _ in range(12):  # a dozen voices, each with its own formant band and syllable rate
        lo = rng.uniform(200.0, 700.0)
        v = signal.sosfilt(signal.butter(2, [lo, lo * rng.uniform(3.0, 6.0)], btype="bandpass",
                                         fs=SR, output="sos"), rng.standard_normal(n))
        rate = rng.uniform(3.0, 6.0)  # syllables per second
        pts = rng.standard_normal(int(n / SR * rate) + 4)
        env = np.interp(np.arange(n) / SR * rate, np.arange(pts.size), pts)
        v *= np.exp(1.2 * env) * (np.sin(np.pi * np.arange(n) / SR * rate + rng.uniform(0, 6)) ** 2)
        babble += v / np.sqrt(np.mean(v ** 2))
    babble /= np.sqrt(np.mean(babble ** 2))
    mix = 0.6 * pink + 0.8 * babble
    return mix / np.sqrt(np.mean(mix ** 2))


def write(out: Path, name: str, x: np.ndarray, beats: np.ndarray, onsets: np.ndarray) -> None:
    """Write ``name.wav`` (peak at -1 dBFS), ``name.beats`` and ``name.onsets``."""
    x = x * (10 ** (-1 / 20) / max(float(np.max(np.abs(x))), 1e-9))
    fade = int(0.2 * SR)  # no click where the file stops
    x[-fade:] *= np.linspace(1.0, 0.0, fade)
    sf.write(str(out / f"{name}.wav"), x.astype(np.float32), SR, subtype="PCM_16")
    (out / f"{name}.beats").write_text("".join(f"{t:.6f} {int(b)}\n" for t, b in beats))
    (out / f"{name}.onsets").write_text("".join(f"{t:.6f}\n" for t in onsets))


def main() -> None:
    """Render every groove, dry and in the hall, into the output folder."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default=".cache/grooves", type=Path,
                    help="output folder (default .cache/grooves)")
    ap.add_argument("--only", default=None, help="comma-separated groove names to render")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    for i, make in enumerate(GROOVES):
        s = make()
        if only and s.name not in only:
            continue
        x, beats, onsets = render(s)
        write(args.out, f"{s.name}_dry", x, beats, onsets)
        wet = signal.fftconvolve(x, hall_ir(seed=200 + i))[: x.size]
        rms = math.sqrt(float(np.mean(wet ** 2)))
        noisy = wet + crowd(wet.size, seed=300 + i) * rms * 10 ** (-20 / 20)
        write(args.out, f"{s.name}_hall", noisy, beats, onsets)
        print(f"{s.name}: {beats[-1, 0] + 60 / s.bpm(np.array([s.n_beats]))[0]:5.1f} s, "
              f"{beats.shape[0]} beats, {onsets.size} onsets -> {args.out}/{s.name}_{{dry,hall}}")


if __name__ == "__main__":
    main()
