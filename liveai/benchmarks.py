"""Benchmarks (``liveai bench ...``): measured on the real stack, printed beside a reference.

Never used by tests: timings on shared machines are noisy, so they are reported, not asserted.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sounddevice as sd

from liveai.app import Engine, has_display
from liveai.audio.devices import refresh
from liveai.audio.jackserver import JackServer
from liveai.audio.sources import DeviceSource, FeederSource
from liveai.config import (
    AnalysisConfig,
    AudioConfig,
    MixerConfig,
    ProjectorConfig,
    ShowConfig,
)
from liveai.errors import LiveAIError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallbackTiming:
    """Callback durations of one measurement."""

    label: str
    period_s: float
    times_s: np.ndarray
    xruns_portaudio: int
    xruns_jack: int
    projector_fps: float | None = None

    def row(self) -> dict[str, float]:
        """Median, p99, max as % of the block period."""
        t = self.times_s
        if t.size == 0:
            return {"median": float("nan"), "p99": float("nan"), "max": float("nan")}
        pct = 100.0 * t / self.period_s
        return {"median": float(np.median(pct)), "p99": float(np.percentile(pct, 99)),
                "max": float(pct.max())}


def _reference_run(seconds: float, block_size: int, sample_rate_hz: int) -> tuple[np.ndarray,
                                                                                   int]:
    """A PortAudio input callback that only copies its input: the floor of Python callbacks."""
    n_max = int(seconds * sample_rate_hz / block_size) + 1024
    times = np.zeros(n_max, dtype=np.int64)
    count = np.zeros(2, dtype=np.int64)
    buf = np.zeros((block_size, 2), dtype=np.float32)

    def callback(indata, frames, time_info, status):
        t0 = time.perf_counter_ns()
        if status:
            count[1] += 1
        buf[:frames] = indata
        i = count[0]
        if i < n_max:
            times[i] = time.perf_counter_ns() - t0
        count[0] = i + 1

    with sd.InputStream(device="system", channels=2, samplerate=sample_rate_hz,
                        blocksize=block_size, dtype="float32", latency="low", callback=callback):
        time.sleep(1.0)  # like the engine rows: measure the steady state, not the start-up
        i0, x0 = int(count[0]), int(count[1])
        time.sleep(seconds)
    n = min(int(count[0]), n_max)
    return times[i0:n] / 1e9, int(count[1]) - x0


def _liveai_run(seconds: float, block_size: int, sample_rate_hz: int, projector: bool,
                fps: float, mixer: bool = False) -> tuple[np.ndarray, int, float | None]:
    """The engine's duplex stream feeding the ring and the analysis (and a projector).

    ``mixer``: the adaptive mixer's chain in the callback (16 bands, limiter, mic on input 3,
    the room thread estimating), as in the PA path.
    """
    config = ShowConfig(
        name="bench",
        audio=AudioConfig(source="device", input="system", duplex=True,
                          sample_rate_hz=sample_rate_hz, block_size=block_size),
        analysis=AnalysisConfig(),
        projector=ProjectorConfig(enabled=projector, fps=fps, vsync=False),
        mixer=MixerConfig(enabled=mixer, mic_channel=3 if mixer else 0, n_bands=16),
    )
    n_max = int(seconds * sample_rate_hz / block_size) + 1024
    source = DeviceSource(input="system", duplex=True, sample_rate_hz=sample_rate_hz,
                          block_size=block_size, input_channels=(1, 2),
                          timing_capacity=n_max)
    headless = not has_display()
    engine = Engine(config, source, headless=headless, projector=projector)
    engine.start()
    try:
        if projector:  # measure while it renders, not while Python starts up
            deadline = time.monotonic() + 60
            while engine.projectors[0].frames_rendered < 10 and time.monotonic() < deadline:
                time.sleep(0.1)
        time.sleep(1.0)
        source.manager.reset_timing()
        xr0 = source.stats().xruns
        f0 = engine.projectors[0].frames_rendered if projector else 0
        t0 = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        times = source.manager.callback_times_s()
        xruns = source.stats().xruns - xr0
        fps_measured = ((engine.projectors[0].frames_rendered - f0) / elapsed
                        if projector else None)
    finally:
        engine.stop()
        engine.close()
    return times, xruns, fps_measured


def bench_audio(seconds: float = 60.0, block_size: int = 128, sample_rate_hz: int = 48000,
                projector: bool = True, fps: float = 60.0) -> list[str]:
    """Callback cost through JACK, liveai vs a bare reference callback.

    Starts a private JACK server with the dummy driver (period = ``block_size``) unless the
    environment already points at a running one.

    Returns
    -------
    list of str
        The report lines.
    """
    server = None
    if not os.environ.get("JACK_DEFAULT_SERVER"):
        server = JackServer(name=f"liveai-bench-{os.getpid()}", sample_rate_hz=sample_rate_hz,
                            period_frames=block_size).start()
        server.activate()
    refresh()
    period_s = block_size / sample_rate_hz
    results: list[CallbackTiming] = []
    try:
        phases = [("reference (copy-only callback)", "ref", False),
                  ("liveai engine", "liveai", False),
                  ("liveai + mixer chain (16 bands)", "mixer", False)]
        if projector:
            phases.append((f"liveai + projector @{fps:g} fps", "liveai", True))
        for label, kind, with_projector in phases:
            log.warning("bench audio: %s for %.0f s ...", label, seconds)
            jack_x0 = server.xruns if server else 0
            if kind == "ref":
                times, xr = _reference_run(seconds, block_size, sample_rate_hz)
                fps_measured = None
            else:
                times, xr, fps_measured = _liveai_run(seconds, block_size, sample_rate_hz,
                                                      with_projector, fps, kind == "mixer")
            jack_x = (server.xruns - jack_x0) if server else -1
            results.append(CallbackTiming(label, period_s, times, xr, jack_x, fps_measured))
    finally:
        if server is not None:
            server.stop()
            refresh()
            server.remove_files()
    return _report(results, block_size, sample_rate_hz, seconds)


def _report(results: list[CallbackTiming], block_size: int, sample_rate_hz: int,
            seconds: float) -> list[str]:
    period_ms = 1000.0 * block_size / sample_rate_hz
    lines = [
        f"liveai bench audio: {block_size}-frame blocks at {sample_rate_hz} Hz "
        f"(period {period_ms:.3f} ms), {seconds:.0f} s per row, JACK dummy driver",
        "callback time as % of the block period (target: p99 <= 10 %, 0 xruns)",
        f"{'':34} {'blocks':>7} {'median':>8} {'p99':>8} {'max':>8} {'xruns PA':>9} "
        f"{'xruns JACK':>10} {'fps':>6}",
    ]
    ref = results[0].row()
    for r in results:
        row = r.row()
        fps = f"{r.projector_fps:6.1f}" if r.projector_fps is not None else f"{'-':>6}"
        jack = f"{r.xruns_jack:>10}" if r.xruns_jack >= 0 else f"{'n/a':>10}"
        lines.append(f"{r.label:34} {r.times_s.size:>7} {row['median']:7.2f}% {row['p99']:7.2f}%"
                     f" {row['max']:7.2f}% {r.xruns_portaudio:>9} {jack} {fps}")
    lines.append("ratio to the reference (median / p99):")
    for r in results[1:]:
        row = r.row()
        lines.append(f"  {r.label:32} {row['median'] / ref['median']:6.2f}x "
                     f"{row['p99'] / ref['p99']:6.2f}x")
    return lines


# -- liveai bench analysis ------------------------------------------------------------------------
def _annotated_files(data_dirs: list[Path]) -> list[tuple[str, np.ndarray, int, dict, Path]]:
    """Find annotated audio under the folders: ``(name, audio, rate, annotations, path)``.

    ``NAME.wav`` beside ``NAME.beats`` (time [beat-in-bar] per line) and/or ``NAME.onsets``
    (one time per line); ``#`` starts a comment.
    """
    import soundfile as sf

    def load(path: Path) -> np.ndarray:
        rows = []
        for lineno, line in enumerate(path.read_text().splitlines(), start=1):
            line = line.split("#")[0].strip()
            if not line:
                continue
            try:
                values = [float(v) for v in line.split()]
            except ValueError:
                raise LiveAIError(f"{path}:{lineno}: not a number in {line!r}") from None
            if rows and len(values) != len(rows[0]):
                raise LiveAIError(f"{path}:{lineno}: {len(values)} columns, the lines before "
                                  f"have {len(rows[0])}")
            rows.append(values)
        if not rows:
            return np.zeros((0, 1))
        table = np.array(rows, dtype=float)
        return table[np.argsort(table[:, 0], kind="stable")]  # mir_eval wants time order

    out = []
    for folder in data_dirs:
        for wav in sorted(folder.rglob("*.wav")):
            ann = {}
            for kind in ("beats", "onsets"):
                p = wav.with_suffix("." + kind)
                if p.is_file():
                    ann[kind] = load(p)
            if not ann:
                continue
            x, sr = sf.read(str(wav), dtype="float32", always_2d=True)
            out.append((str(wav.relative_to(folder.parent)), x, sr, ann, wav))
    return out


def _demo_material(seconds: float = 185.0, sr: int = 44100):
    """The built-in demo groove (one whole arrangement) with its exact beats and bars."""
    from liveai.audio.demo import DemoGroove

    g = DemoGroove(sr, channels=1)
    x = g.read(int(seconds * sr))
    beats = np.array(g.beat_times_samples, dtype=float) / sr
    beats = beats[beats < seconds]
    positions = (np.arange(beats.size) % 4) + 1
    return ("demo groove (built in)", x, sr, {"beats": np.stack([beats, positions], axis=1)},
            None)


def _liveai_events(x: np.ndarray, sr: int, hop: int) -> tuple[dict, float]:
    from liveai.analysis.pipeline import EventLog, FrameAnalyzer
    from liveai.frame import new_frame

    fa = FrameAnalyzer(sr, hop, 2048)
    log = EventLog(sr, hop)
    frame = new_frame()
    x = np.ascontiguousarray(x, dtype=np.float32)
    t0 = time.perf_counter()
    for i in range(0, x.shape[0] - hop + 1, hop):
        fa.process_hop(x[i : i + hop], frame)
        log.add(frame)
    return log.as_dict(), time.perf_counter() - t0


def _liveai_stage_us(x: np.ndarray, sr: int, hop: int) -> dict[str, float]:
    """Mean microseconds per hop of FrameAnalyzer's one compiled call, and of the whole hop.

    The pipeline's one compiled call per hop (``fused``: levels, onsets, sections and beats)
    is timed in place, wrapped in a timer on this one run (it adds well under a microsecond).
    Then each analyser runs alone over the same audio (``levels``, ``onsets``, ``sections``,
    ``beats``), to show where the fused call's time goes (alone, each also pays its own
    dispatch).
    """
    from liveai.analysis import pipeline
    from liveai.analysis.levels import LevelAnalyzer
    from liveai.analysis.onsets import OnsetDetector
    from liveai.analysis.rhythm import BeatTracker
    from liveai.analysis.sections import SectionTracker
    from liveai.frame import new_frame

    fa = pipeline.FrameAnalyzer(sr, hop, 2048)
    ns = {"fused": 0}

    def timed(fn):
        def wrapper(*args):
            t0 = time.perf_counter_ns()
            out = fn(*args)
            ns["fused"] += time.perf_counter_ns() - t0
            return out
        return wrapper

    frame = new_frame()
    x = np.ascontiguousarray(x, dtype=np.float32)
    hops = [x[i : i + hop] for i in range(0, x.shape[0] - hop + 1, hop)]
    fused = pipeline._frame_hop
    pipeline._frame_hop = timed(fused)
    total = 0
    try:
        for h in hops:
            t0 = time.perf_counter_ns()
            fa.process_hop(h, frame)
            total += time.perf_counter_ns() - t0
    finally:
        pipeline._frame_hop = fused
    from liveai.analysis.rhythm import warm_up as warm_beats

    warm_beats(alone=True)  # the tracker's own hop call (the pipeline runs it in its own)
    levels = LevelAnalyzer(sr, hop, 2048)
    onsets = OnsetDetector(sr, 2048, hop)
    sections = SectionTracker(sr, hop)
    beats = BeatTracker(sr, hop)
    alone = np.zeros(4, dtype=np.int64)
    for h in hops:
        t0 = time.perf_counter_ns()
        levels.process_hop(h, frame)
        t1 = time.perf_counter_ns()
        onsets.process(levels.history, frame)
        t2 = time.perf_counter_ns()
        sections.process(frame)
        t3 = time.perf_counter_ns()
        odf = onsets.odf
        beats.process(onsets.rhythm_odf[0], odf[1], frame, odf[2], odf[3])
        t4 = time.perf_counter_ns()
        alone += (t1 - t0, t2 - t1, t3 - t2, t4 - t3)
    ns |= dict(zip(("levels", "onsets", "sections", "beats"), alone.tolist(), strict=True))
    n = len(hops)
    return {name: t / (1e3 * n) for name, t in ns.items()} | {"total": total / (1e3 * n)}


def _aubio_events(x: np.ndarray, sr: int, hop: int) -> tuple[dict, float]:
    import aubio

    mono = np.ascontiguousarray(x.mean(axis=1), dtype=np.float32)
    tempo = aubio.tempo("default", 2 * hop, hop, sr)
    onset = aubio.onset("default", 2 * hop, hop, sr)
    beats, onsets = [], []
    t0 = time.perf_counter()
    for i in range(0, mono.shape[0] - hop + 1, hop):
        block = mono[i : i + hop]
        if tempo(block)[0]:
            beats.append(tempo.get_last_s())
        if onset(block)[0]:
            onsets.append(onset.get_last_s())
    elapsed = time.perf_counter() - t0
    return {"beats": beats, "onsets": onsets, "bpm": float(tempo.get_bpm())}, elapsed


def madmom_interpreter(python: str) -> str:
    """The path of the interpreter given to ``--madmom`` (a path or a command on PATH).

    Raises
    ------
    LiveAIError
        When there is no such interpreter; says how to build one.
    """
    import shutil

    found = shutil.which(python)
    if found is None:
        raise LiveAIError(f"--madmom {python}: no such interpreter (make bench-madmom builds "
                          "one in .cache/madmom-venv)")
    return found


def _madmom_beats(python: str, material: list) -> list[dict]:
    """Run madmom's online beat tracker on every material, under the interpreter ``python``.

    Runs :mod:`liveai.madmom_beats` in that interpreter (a virtualenv with madmom: see
    ``scripts/setup_madmom.sh``). madmom's models take 44.1 kHz audio and read only wav files
    at that rate (anything else needs ffmpeg), so audio that is not a 44.1 kHz file (the demo
    groove, a 48 kHz recording) is written, resampled, to a temporary 16-bit wav first.

    Parameters
    ----------
    python : str
        The interpreter (a path or a command on PATH).
    material : list of tuple
        ``(name, audio (n_samples, n_channels), rate_hz, annotations, path or None)`` each.

    Returns
    -------
    list of dict
        Per material, in order: ``{"beats": [s, ...]}`` and the processing time in ``seconds``.

    Raises
    ------
    LiveAIError
        When the interpreter is missing, madmom does not import, or a file fails; names the
        file and gives madmom's own last words.
    """
    import json

    import soundfile as sf
    from scipy.signal import resample_poly

    python = madmom_interpreter(python)
    runner = Path(__file__).with_name("madmom_beats.py")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        names = []
        for i, (name, x, sr, _ann, path) in enumerate(material):
            if path is None or sr != 44100:
                path = Path(tmp) / f"material{i}.wav"
                if sr != 44100:
                    g = np.gcd(44100, sr)
                    x = resample_poly(x, 44100 // g, sr // g, axis=0)
                sf.write(str(path), np.clip(x, -1.0, 1.0), 44100, subtype="PCM_16")
            paths.append(str(Path(path).resolve()))
            names.append(name)
        log.warning("bench analysis: madmom's online tracker on %d files (about 15x real "
                    "time: minutes for a large corpus)", len(paths))
        try:
            done = subprocess.run([python, str(runner)], input=json.dumps(paths), text=True,
                                  capture_output=True, check=False)
        except OSError as exc:
            raise LiveAIError(f"--madmom {python}: cannot run it ({exc})") from None
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or len(results) != len(paths):
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        where = names[len(results)] if len(results) < len(names) else "the end"
        raise LiveAIError(f"madmom's tracker under {python} stopped at {where} ({len(results)} "
                          f"of {len(paths)} files done): {tail or 'no message'}")
    return results


def _scores(est: dict, ann: dict) -> dict[str, float]:
    import warnings

    import mir_eval

    with warnings.catch_warnings():  # mir_eval warns on short files (no beats after 5 s)
        warnings.simplefilter("ignore", UserWarning)
        return _scores_quiet(est, ann, mir_eval)


def _scores_quiet(est: dict, ann: dict, mir_eval) -> dict[str, float]:
    s: dict[str, float] = {}
    if "beats" in ann and ann["beats"].size:
        ref = mir_eval.beat.trim_beats(ann["beats"][:, 0])
        e = mir_eval.beat.trim_beats(np.array(est["beats"], dtype=float))
        s["F"] = mir_eval.beat.f_measure(ref, e)
        _, cmlt, _, amlt = mir_eval.beat.continuity(ref, e)
        s["CMLt"], s["AMLt"] = cmlt, amlt
        if ann["beats"].shape[1] > 1 and "downbeats" in est:
            ref_db = ann["beats"][ann["beats"][:, 1] == 1, 0]
            s["downF"] = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref_db),
                                                 mir_eval.beat.trim_beats(
                                                     np.array(est["downbeats"], dtype=float)))
    if "onsets" in ann and ann["onsets"].size and "onsets" in est:
        s["onsetF"] = mir_eval.onset.f_measure(ann["onsets"][:, 0],
                                               np.array(est["onsets"], dtype=float),
                                               window=0.05)[0]
    return s


class _TimedDemo(FeederSource):
    """The demo groove at the real-time pace, remembering when each block entered the ring."""

    kind = "demo"

    def __init__(self, sample_rate_hz: int, block_size: int, seconds: float) -> None:
        from liveai.audio.demo import DemoGroove

        super().__init__(block_size, realtime=True)
        self.sample_rate_hz = sample_rate_hz
        self.channels = 2
        self.description = "demo groove (timed)"
        self._groove = DemoGroove(sample_rate_hz)
        n_blocks = int(seconds * sample_rate_hz / block_size) + 1
        self.write_times = np.zeros(n_blocks)
        self._n = 0

    def _next_block(self) -> np.ndarray | None:
        if self._n >= self.write_times.shape[0]:
            return None
        return self._groove.read(self.block_size)

    def _before_write(self) -> None:
        if self._n < self.write_times.shape[0]:
            self.write_times[self._n] = time.perf_counter()
        self._n += 1


def _latency(sample_rate_hz: int, block_size: int, seconds: float) -> np.ndarray:
    """Seconds from a block entering the ring to the FeatureFrame that covers it."""
    config = ShowConfig(name="bench", audio=AudioConfig(source="demo",
                                                        sample_rate_hz=sample_rate_hz,
                                                        block_size=block_size),
                        projector=ProjectorConfig(enabled=False))
    source = _TimedDemo(sample_rate_hz, block_size, seconds)
    published: list[tuple[float, int]] = []
    engine = Engine(config, source, projector=False,
                    on_frame=lambda f: published.append((time.perf_counter(),
                                                         int(f["stream_time_samples"]))))
    engine.start()
    try:
        engine.source_drained.wait(seconds + 30)
    finally:
        engine.stop()
        engine.close()
    lat = []
    for t_pub, upto in published:
        block = (upto - 1) // block_size  # the block holding the frame's newest sample
        if block < source._n and source.write_times[block] > 0:
            lat.append(t_pub - source.write_times[block])
    return np.array(lat[20:])


def _startup_s(cache_dir: str) -> float:
    code = "from liveai.analysis.pipeline import warm_up; print(warm_up())"
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=600)
    return float(out.stdout.strip().splitlines()[-1])


#: Annotated audio shipped beside the repository (the project's shared data).
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "beats"


def bench_analysis(data_dirs: list[Path], hop: int = 512, latency_s: float = 10.0,
                   madmom_python: str | None = None) -> list[str]:
    """Accuracy (mir_eval) and speed of the analysis next to aubio's causal tempo + onsets.

    Parameters
    ----------
    data_dirs : list of Path
        Folders of annotated audio (``NAME.wav`` with ``NAME.beats`` / ``NAME.onsets``).
    hop : int
        Hop of both analyses [samples].
    latency_s : float
        Length of the real-time latency run [s].
    madmom_python : str, optional
        An interpreter with madmom: its online beat tracker is scored beside (beats only).

    Returns
    -------
    list of str
        The report lines.
    """
    try:
        import aubio  # noqa: F401
        import mir_eval  # noqa: F401
    except ImportError as exc:
        raise LiveAIError(f"liveai bench analysis needs aubio and mir_eval ({exc}): run "
                          "make bench-setup (or .venv/bin/pip install -e '.[bench]'; aubio "
                          "builds with a C compiler and the Python headers)") from None
    from liveai.analysis.pipeline import warm_up

    warm_up()  # time the analysis, not numba compiling it (start-up is reported below)
    material = [_demo_material(), *_annotated_files(data_dirs)]
    madmom = _madmom_beats(madmom_python, material) if madmom_python else None
    lines = [f"liveai bench analysis: hop {hop} samples; beats F (70 ms), CMLt/AMLt (17.5 %), "
             "onsets F (50 ms), downbeats F (70 ms); aubio 'default' tempo+onset on the same "
             "audio, causal" + ("; madmom's online RNN + DBN beats" if madmom else ""),
             f"{'material':38} {'len s':>6} | {'liveai F  CMLt  AMLt  onF  downF':>33} | "
             f"{'aubio F  CMLt  AMLt  onF':>26}" + (f" | {'madmom F  CMLt  AMLt':>20}"
                                                    if madmom else "")]
    keys = (("F", "CMLt", "AMLt", "onsetF", "downF"), ("F", "CMLt", "AMLt", "onsetF"),
            ("F", "CMLt", "AMLt"))
    widths = (33, 26, 20)
    t_live = t_aubio = audio_s = 0.0
    aubio_hop_us = []

    def fmt(s: dict, keys: tuple[str, ...]) -> str:
        return " ".join(f"{s[k]:5.2f}" if k in s else "   - " for k in keys)

    def cells(scores: tuple[dict, ...]) -> str:
        return " | ".join(f"{fmt(sc, k):>{w}}" for sc, k, w in zip(scores, keys, widths,
                                                                   strict=False))

    groups: dict[str, list[tuple[dict, ...]]] = {}
    for i, (name, x, sr, ann, _path) in enumerate(material):
        log.warning("bench analysis: %s", name)
        ours, t1 = _liveai_events(x, sr, hop)
        theirs, t2 = _aubio_events(x, sr, hop)
        t_live, t_aubio, audio_s = t_live + t1, t_aubio + t2, audio_s + x.shape[0] / sr
        aubio_hop_us.append(1e6 * t2 / max(x.shape[0] // hop, 1))
        scores = (_scores(ours, ann), _scores(theirs, ann))
        if madmom:
            scores += (_scores({"beats": madmom[i]["beats"]}, ann),)
        lines.append(f"{name[:38]:38} {x.shape[0] / sr:6.1f} | {cells(scores)}")
        if "/" in name and "F" in scores[0]:  # an annotated file: its folder's means below
            folder = name.split("/")[0]
            groups.setdefault(folder, []).append(scores)
            for kind in ("dry", "hall"):  # the renderers' two versions of each groove
                if Path(name).stem.endswith("_" + kind):
                    groups.setdefault(f"{folder} ({kind})", []).append(scores)
    for group, rows in sorted(groups.items()):
        if len(rows) < 2:
            continue
        mean = tuple({k: float(np.mean([r[i][k] for r in rows if k in r[i]]))
                      for k in keys[i] if k in rows[0][i]} for i in range(len(rows[0])))
        lines.append(f"{'mean: ' + group + f', {len(rows)} files':38} {'':6} | {cells(mean)}")
    lines.append(f"speed: liveai {audio_s / t_live:7.0f}x real time (full analysis), aubio "
                 f"{audio_s / t_aubio:7.0f}x (tempo + onsets); ratio liveai/aubio "
                 f"{t_aubio / t_live:5.2f}")
    if madmom:
        madmom_s = sum(r["seconds"] for r in madmom)
        lines.append(f"       madmom {audio_s / madmom_s:7.0f}x real time (online RNN + DBN "
                     "beats, its own process)")
    # Where liveai's time goes, hop by hop, on the first material (the demo groove).
    name, x, sr, _, _ = material[0]
    us = _liveai_stage_us(x, sr, hop)
    lines.append(f"per hop ({name}, {sr} Hz): liveai {us['total']:.0f} us = levels + onsets + "
                 f"sections + beats {us['fused']:.0f} (one compiled call) + glue; aubio "
                 f"{aubio_hop_us[0]:.0f} us (tempo + onsets)")
    lines.append(f"  each analyser alone (own dispatch): levels {us['levels']:.0f} us, onsets "
                 f"{us['onsets']:.0f} us, sections {us['sections']:.0f} us, beats "
                 f"{us['beats']:.0f} us")
    lat = _latency(48000, 128, latency_s)
    if lat.size:
        lines.append(f"latency, block entering the ring -> its FeatureFrame published (48 kHz, "
                     f"128-frame blocks, hop {AnalysisConfig().hop_length}): median "
                     f"{1e3 * np.median(lat):.2f} ms, p99 {1e3 * np.percentile(lat, 99):.2f} ms "
                     f"(the hop itself adds up to {1e3 * AnalysisConfig().hop_length / 48000:.1f}"
                     " ms before a frame can exist)")
    with tempfile.TemporaryDirectory() as cache:
        cold = _startup_s(cache)
        warm = _startup_s(cache)
    lines.append(f"start-up (numba kernels): cold cache {cold:.2f} s, warm cache {warm:.2f} s")
    return lines


def bench_control(messages: int = 50_000, latency_samples: int = 1000) -> list[str]:
    """OSC messages per second (checked + feedback) and OSC → parameter latency vs python-osc.

    See :mod:`liveai.control.bench`.
    """
    from liveai.control.bench import bench_control as run

    return run(messages=messages, latency_samples=latency_samples)


def bench_mixer(seconds: float = 5.0, venue_s: float = 50.0) -> list[str]:
    """Mixer chain cost vs scipy's sosfilt, room estimator cost, venue simulation figures.

    See :mod:`liveai.mixer.bench`.
    """
    from liveai.mixer.bench import bench_mixer as run

    return run(seconds=seconds, venue_s=venue_s)
