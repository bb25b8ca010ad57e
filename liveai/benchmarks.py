"""Benchmarks (``liveai bench ...``): measured on the real stack, printed beside a reference.

Never used by tests: timings on shared machines are noisy, so they are reported, not asserted.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np
import sounddevice as sd

from liveai.app import Engine, has_display
from liveai.audio.devices import refresh
from liveai.audio.jackserver import JackServer
from liveai.audio.sources import DeviceSource
from liveai.config import AnalysisConfig, AudioConfig, ProjectorConfig, ShowConfig

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
                fps: float) -> tuple[np.ndarray, int, float | None]:
    """The engine's duplex stream feeding the ring and the analysis (and a projector)."""
    config = ShowConfig(
        name="bench",
        audio=AudioConfig(source="device", input="system", duplex=True,
                          sample_rate_hz=sample_rate_hz, block_size=block_size),
        analysis=AnalysisConfig(),
        projector=ProjectorConfig(enabled=projector, fps=fps, vsync=False),
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
                  ("liveai engine", "liveai", False)]
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
                                                      with_projector, fps)
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
