#!/usr/bin/env python3
"""Real band recordings with a beat grid: the Frets on Fire song packages from Debian.

Each song in ``fretsonfire-songs-muldjord`` and ``fretsonfire-songs-sectoid`` (rock and metal,
8 songs, 2.4-4.8 minutes, free licences) comes as a backing track, a guitar track and a MIDI chart
(``notes.mid``) whose notes the game matches against the audio, so its tempo map is the song's
beat grid. This script fetches the two packages (``apt-get download``: no root, nothing
installed), mixes each song's stems (backing, guitar) into ``NAME.wav`` and writes ``NAME.beats``
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
import itertools
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

    A beat is a quarter note (the charts' tick grid); every tempo change (on any track) moves
    the times from its own tick on. Bars start at tick 0 and at each time signature;
    ``beat_in_bar`` counts quarter notes from 1 there. A metre that is not whole quarter notes
    (7/8) has no quarter-note downbeats: its beats are written with 0, "not known".
    """
    mid = mido.MidiFile(str(path))
    tpb = mid.ticks_per_beat
    tempos = [(0, 500000)]  # (tick, microseconds per quarter note); MIDI's default 120 BPM
    metres = [(0, 4 * tpb)]  # (tick, ticks per bar)
    for track in mid.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                metres.append((tick, msg.numerator * 4 * tpb // msg.denominator))
    tempos.sort(key=lambda e: e[0])
    metres.sort(key=lambda e: e[0])
    # Seconds at each tempo change, so any tick's time is one step from the change before it.
    starts_s = [0.0]
    for (t0, us0), (t1, _) in itertools.pairwise(tempos):
        starts_s.append(starts_s[-1] + (t1 - t0) * us0 / (1e6 * tpb))
    rows = []
    beat = 0
    while True:
        tick = beat * tpb
        k = max(i for i, (t, _) in enumerate(tempos) if t <= tick)
        time_s = starts_s[k] + (tick - tempos[k][0]) * tempos[k][1] / (1e6 * tpb)
        if time_s > end_s:
            break
        m_tick, bar_ticks = metres[max(i for i, (t, _) in enumerate(metres) if t <= tick)]
        in_bar = 0
        if bar_ticks % tpb == 0 and (tick - m_tick) % tpb == 0:
            in_bar = (tick - m_tick) // tpb % (bar_ticks // tpb) + 1
        rows.append((time_s, in_bar))
        beat += 1
    return np.array(rows)


def convert(song_dir: Path, out_dir: Path) -> Path:
    """Mix one song's tracks to ``out_dir/NAME.wav`` and write its ``NAME.beats``."""
    stems = []
    sr = 0
    for p in sorted(song_dir.glob("*.ogg")):  # the stems: song (backing), guitar, rhythm
        x, rate = sf.read(str(p), dtype="float32", always_2d=True)
        if stems and rate != sr:
            raise SystemExit(f"fof_songs: {p} is at {rate} Hz, the other stems at {sr} Hz")
        sr = rate
        stems.append(x)
    audio = np.zeros((max(len(x) for x in stems), max(x.shape[1] for x in stems)), np.float32)
    for x in stems:
        audio[: len(x)] += x  # the longest stem sets the length; a mono stem feeds both sides
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
        try:
            subprocess.run(["apt-get", "download", *PACKAGES], cwd=tmp, check=True,
                           capture_output=True, text=True)
        except FileNotFoundError:
            raise SystemExit("fof_songs: needs apt-get (Debian or Ubuntu)") from None
        except subprocess.CalledProcessError as exc:
            raise SystemExit(f"fof_songs: apt-get download failed: {exc.stderr.strip()} "
                             "(run 'apt-get update' first?)") from None
        for deb in tmp.glob("*.deb"):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp / "x")], check=True)
        for chart in sorted((tmp / "x").rglob("notes.mid")):
            convert(chart.parent, args.out_dir)


if __name__ == "__main__":
    main()
