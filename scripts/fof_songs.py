#!/usr/bin/env python3
"""Real band recordings with a beat grid: the Frets on Fire song packages from Debian.

Each song in ``fretsonfire-songs-muldjord`` and ``fretsonfire-songs-sectoid`` (rock and metal,
8 songs, 2.5-5 minutes, free licences) comes as a backing track, a guitar track and a MIDI chart
(``notes.mid``) whose notes the game matches against the audio, so its tempo map is the song's
beat grid. This script fetches the two packages (``apt-get download``: no root, nothing
installed), mixes backing and guitar into ``NAME.wav`` and writes ``NAME.beats``
(``time beat_in_bar``, from the chart's tempo and time-signature events) for
``liveai bench analysis``. A development tool, not needed to run or test liveai.

The grid is the chart author's: a check on real mixes (distorted guitars, cymbal wash, live
drums), not a hand annotation. At 170-190 BPM the charts count quarter notes where a listener
may tap half time: AMLt allows that, F and CMLt do not.

Usage::

    .venv/bin/python scripts/fof_songs.py .cache/fof
    .venv/bin/liveai bench analysis --data .cache/fof
"""

from __future__ import annotations

import argparse
import logging
import re
import subprocess
import tempfile
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

log = logging.getLogger("fof_songs")
PACKAGES = ("fretsonfire-songs-muldjord", "fretsonfire-songs-sectoid")


def chart_beats(path: Path, end_s: float) -> np.ndarray:
    """Beat grid of a MIDI chart up to ``end_s``: rows of ``(time_s, beat_in_bar)``, shape (n, 2).

    Follows every tempo and time-signature change (ticks are merged across tracks);
    ``beat_in_bar`` counts from 1 at each bar line.
    """
    mid = mido.MidiFile(str(path))
    tpb = mid.ticks_per_beat
    events = []  # (tick, kind, value)
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                events.append((tick, 0, msg.tempo))
            elif msg.type == "time_signature":
                events.append((tick, 1, msg.numerator * 4 // msg.denominator or 4))
    events.sort()
    tempo_us, per_bar = 500000, 4
    rows = []
    tick = t_s = 0.0
    beat = 0
    bar_start = 0
    i = 0
    while t_s <= end_s:
        while i < len(events) and events[i][0] <= tick:
            _, kind, value = events[i]
            if kind == 0:
                tempo_us = value
            else:  # a new metre starts a new bar count
                per_bar, bar_start = value, beat
            i += 1
        rows.append((t_s, (beat - bar_start) % per_bar + 1))
        # to the next beat, across any tempo change inside this one
        target = tick + tpb
        while i < len(events) and events[i][0] < target and events[i][1] == 0:
            t_s += (events[i][0] - tick) * tempo_us / (1e6 * tpb)
            tick, tempo_us = events[i][0], events[i][2]
            i += 1
        t_s += (target - tick) * tempo_us / (1e6 * tpb)
        tick = target
        beat += 1
    return np.array(rows)


def convert(song_dir: Path, out_dir: Path) -> Path:
    """Mix one song's tracks to ``out_dir/NAME.wav`` and write its ``NAME.beats``."""
    tracks = [p for p in sorted(song_dir.glob("*.ogg"))]
    audio = None
    sr = 0
    for p in tracks:
        x, sr = sf.read(str(p), dtype="float32", always_2d=True)
        audio = x if audio is None else audio[: len(x)] + x[: len(audio)]
    peak = float(np.max(np.abs(audio))) or 1.0
    audio *= min(1.0, 0.95 / peak)  # the sum of the stems may clip
    name = re.sub(r"[^a-z0-9]+", "_", f"{song_dir.parent.name}_{song_dir.name}".lower())
    wav = out_dir / f"{name}.wav"
    sf.write(str(wav), audio, sr, subtype="PCM_16")
    beats = chart_beats(song_dir / "notes.mid", len(audio) / sr)
    np.savetxt(out_dir / f"{name}.beats", beats, fmt=["%.6f", "%d"])
    log.info("%s: %.0f s, %d beats at %.1f BPM", name, len(audio) / sr, len(beats),
             60.0 / np.median(np.diff(beats[:, 0])))
    return wav


def main() -> None:
    """Fetch the packages, convert every song into OUT_DIR."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", type=Path)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=tmp, check=True,
                       capture_output=True)
        for deb in tmp.glob("*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp / "x")], check=True)
        for chart in sorted((tmp / "x").rglob("notes.mid")):
            convert(chart.parent, args.out_dir)


if __name__ == "__main__":
    main()
