"""Per-hop cost of the level and section analysis, alone and inside the whole FrameAnalyzer.

Run from the repository root::

    .venv/bin/python scripts/bench_levels_sections.py            # timings
    .venv/bin/python scripts/bench_levels_sections.py --profile  # plus a cProfile of FrameAnalyzer
    .venv/bin/python scripts/bench_levels_sections.py --save OUT.npz   # every frame, for diffs
    .venv/bin/python scripts/bench_levels_sections.py --compare OUT.npz

The material is 30 s of the demo groove (stereo, 48 kHz, hop 512). SectionTracker is timed on
frames recorded from a full FrameAnalyzer run, so its cost excludes the other analysers. Times
are this thread's CPU time, the best of ``--repeats`` runs (the least disturbed by other
processes on a shared machine).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import numpy as np

from liveai.analysis.levels import LevelAnalyzer
from liveai.analysis.pipeline import FrameAnalyzer, warm_up
from liveai.analysis.sections import SectionTracker
from liveai.audio.demo import DemoGroove
from liveai.frame import new_frame

SR, HOP, N_FFT = 48000, 512, 2048
#: CPU time of this thread: on a shared machine, time spent descheduled is not ours to count.
_clock = time.thread_time
LEVEL_FIELDS = ("stream_time_samples", "rms_db", "peak_db", "loudness_lufs", "momentary_lufs",
                "level", "band_db", "band_level", "spectrum", "waveform", "chroma",
                "pitch_class", "nonfinite_samples")
SECTION_FIELDS = ("energy", "novelty", "section", "section_count")


def material(seconds: float) -> np.ndarray:
    """Demo groove, stereo float32, with noise on top (so every band is busy)."""
    x = DemoGroove(SR, channels=2).read(int(seconds * SR))
    rng = np.random.default_rng(0)
    x = x + (0.01 * rng.standard_normal(x.shape)).astype(np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)


def hops(x: np.ndarray) -> list[np.ndarray]:
    """Consecutive (HOP, channels) views of ``x``."""
    return [x[i : i + HOP] for i in range(0, x.shape[0] - HOP + 1, HOP)]


def run_levels(hs: list[np.ndarray]) -> tuple[float, np.ndarray]:
    """CPU seconds of LevelAnalyzer over ``hs``, and every frame it wrote."""
    an = LevelAnalyzer(SR, HOP, N_FFT, channels=2)
    frame = new_frame()
    out = np.zeros(len(hs), dtype=frame.dtype)
    t0 = _clock()
    for h in hs:
        an.process_hop(h, frame)
    dt = _clock() - t0
    an.reset()
    for i, h in enumerate(hs):  # untimed pass that keeps every frame
        an.process_hop(h, frame)
        out[i] = frame
    return dt, out


def run_full(hs: list[np.ndarray]) -> tuple[float, np.ndarray]:
    """CPU seconds of FrameAnalyzer over ``hs`` (with a frame copy per hop), and the frames."""
    fa = FrameAnalyzer(SR, HOP, N_FFT, channels=2)
    frame = new_frame()
    out = np.zeros(len(hs), dtype=frame.dtype)
    t0 = _clock()
    for i, h in enumerate(hs):
        fa.process_hop(h, frame)
        out[i] = frame
    return _clock() - t0, out


def run_sections(frames: np.ndarray) -> tuple[float, np.ndarray]:
    """CPU seconds of SectionTracker over recorded ``frames``, and the frames it rewrote."""
    tr = SectionTracker(SR, HOP)
    work = frames.copy()
    # 0-d records, as the pipeline passes them
    views = [np.ndarray((), work.dtype, buffer=work, offset=i * work.dtype.itemsize)
             for i in range(work.shape[0])]
    t0 = _clock()
    for v in views:
        tr.process(v)
    return _clock() - t0, work


def main() -> None:  # noqa: D103
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--save")
    ap.add_argument("--compare")
    args = ap.parse_args()
    print(f"warm-up {warm_up():.2f} s")
    hs = hops(material(args.seconds))
    n = len(hs)
    t_full, full = min((run_full(hs) for _ in range(args.repeats)), key=lambda r: r[0])
    t_lev, lev = min((run_levels(hs) for _ in range(args.repeats)), key=lambda r: r[0])
    t_sec, sec = min((run_sections(full) for _ in range(args.repeats)), key=lambda r: r[0])
    print(f"{n} hops of {HOP} at {SR} Hz ({args.seconds:.0f} s, stereo), best of {args.repeats}:")
    print(f"  LevelAnalyzer.process_hop  {1e6 * t_lev / n:8.1f} us/hop")
    print(f"  SectionTracker.process     {1e6 * t_sec / n:8.1f} us/hop")
    print(f"  FrameAnalyzer.process_hop  {1e6 * t_full / n:8.1f} us/hop "
          f"({args.seconds / t_full:.0f}x real time)")
    if args.save:
        np.savez(args.save, levels=lev, sections=sec, frames=full)
    if args.compare:
        ref = np.load(args.compare)
        for name, got, fields in (("levels", lev, LEVEL_FIELDS),
                                  ("sections", run_sections(ref["frames"])[1], SECTION_FIELDS)):
            want = ref[name]
            for f in fields:
                a, b = np.asarray(got[f], dtype=np.float64), np.asarray(want[f], dtype=np.float64)
                err = float(np.max(np.abs(a - b))) if a.size else 0.0
                flag = "" if err == 0 else ("  ~" if err < 1e-4 else "  DIFFERS")
                print(f"  {name:8} {f:20} max |diff| {err:.3g}{flag}")
    if args.profile:
        fa = FrameAnalyzer(SR, HOP, N_FFT, channels=2)
        frame = new_frame()
        pr = cProfile.Profile()
        pr.enable()
        for h in hs:
            fa.process_hop(h, frame)
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
