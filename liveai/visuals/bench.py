"""``liveai bench visuals``: Python time per frame and the cost of a scene switch.

The show is drawn offscreen (EGL) at the chosen size with two scenes crossfading all the time
(the worst case: two scenes, the mix and the present pass every frame). For each frame we measure

- **Python time**: the wall time of :meth:`VisualShow.render` itself (uniform and texture
  uploads, mappings, bookkeeping, queuing draw calls); the GPU works asynchronously, so this is
  what the CPU spends per frame before the driver takes over;
- **frame time**: render plus ``ctx.finish()`` (until the GPU is done).

Beside it, a **reference** loop draws the same two programs, the mix and the present with bare
moderngl calls and no bookkeeping: the difference is liveai's overhead. The switch test starts a
transition every second and compares the frames where it starts with the others.
"""

from __future__ import annotations

import time
from pathlib import Path

import moderngl
import numpy as np

from liveai.config import AutopilotConfig, SceneConfig, TransitionConfig, VisualsConfig
from liveai.visuals.check import synthetic_frame
from liveai.visuals.playlist import all_scene_files, scene_search_dirs
from liveai.visuals.scene import RenderClock
from liveai.visuals.show import VisualShow


def _pct(x: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(x), q)) if x else float("nan")


def bench_visuals(size: tuple[int, int] = (1920, 1080), frames: int = 240,
                  scenes: list[str] | None = None, fps: float = 60.0) -> list[str]:
    """Run the benchmark; return the report lines.

    Parameters
    ----------
    size : (width, height)
        Render size, pixels.
    frames : int
        Frames per measurement.
    scenes : list of str, optional
        Two or more scene files (default: the first two of ``shaders/``, else the fallback).
    fps : float
        The frame rate whose period the numbers are compared with.
    """
    ctx = moderngl.create_standalone_context(backend="egl", require=330)
    fbo = ctx.simple_framebuffer(size)
    files = scenes or [str(p) for p in all_scene_files(scene_search_dirs(VisualsConfig(),
                                                                          None))][:2]
    cfg = VisualsConfig(scenes=[SceneConfig(file=f) for f in files],
                        autopilot=AutopilotConfig(enabled=False),
                        transition=TransitionConfig(duration=1e9, unit="seconds",
                                                    quantize="none"))
    show = VisualShow(ctx, cfg, None)
    lines = [f"liveai bench visuals: {ctx.info['GL_RENDERER']}, {size[0]}x{size[1]}, "
             f"{frames} frames, scenes: {', '.join(Path(f).stem for f in show.scene_names)}"]
    py_ms: list[float] = []
    cpu_ms: list[float] = []
    ref_cpu: list[float] = []
    frame_ms: list[float] = []
    try:
        # 1. liveai: two layers crossfading every frame.
        for i in range(frames + 10):
            if i == 0 and len(show.layers) > 1:
                show.request(1, "none")
            clock = RenderClock(i / fps, 1.0 / fps if i else 0.0, i, (2026.0, 1.0, 1.0, 0.0))
            frame = synthetic_frame(i, True, fps)
            c0 = time.thread_time()
            t0 = time.perf_counter()
            show.render(frame, clock, fbo, size)
            t1 = time.perf_counter()
            c1 = time.thread_time()
            ctx.finish()
            t2 = time.perf_counter()
            if i >= 10:  # after the first frames' allocations
                py_ms.append(1000.0 * (t1 - t0))
                cpu_ms.append(1000.0 * (c1 - c0))
                frame_ms.append(1000.0 * (t2 - t0))
        # 2. Reference: the same programs drawn with bare moderngl calls.
        ref_py: list[float] = []
        ref_frame: list[float] = []
        layers = show.layers[:2] if len(show.layers) > 1 else show.layers * 2
        progs = [(layer.scene.vao, layer.scene._output_fbo) for layer in layers]
        present, pvao = show._present, show._present_vao
        for _ in range(frames):
            c0 = time.thread_time()
            t0 = time.perf_counter()
            for vao, out in progs:
                out.use()
                vao.render(moderngl.TRIANGLE_STRIP)
            show._mix_fbo.use()
            pvao.render(moderngl.TRIANGLE_STRIP)
            fbo.use()
            present["gain"].value = 1.0
            pvao.render(moderngl.TRIANGLE_STRIP)
            t1 = time.perf_counter()
            ref_cpu.append(1000.0 * (time.thread_time() - c0))
            ctx.finish()
            t2 = time.perf_counter()
            ref_py.append(1000.0 * (t1 - t0))
            ref_frame.append(1000.0 * (t2 - t0))
        # 3. Switches: a new transition every second, frames where it starts vs the others.
        cfg2 = VisualsConfig(scenes=cfg.scenes, autopilot=AutopilotConfig(enabled=False),
                             transition=TransitionConfig(duration=0.5, unit="seconds",
                                                         quantize="none"))
        show2 = VisualShow(ctx, cfg2, None)
        switch_ms: list[float] = []
        other_ms: list[float] = []
        period = max(5, min(int(fps), frames // 4))
        for i in range(frames + 10):
            switching = i % period == 0 and i > 0 and len(show2.layers) > 1
            if switching:
                show2.request((show2.current + 1) % len(show2.layers), "none")
            clock = RenderClock(i / fps, 1.0 / fps if i else 0.0, i, (2026.0, 1.0, 1.0, 0.0))
            t0 = time.perf_counter()
            show2.render(synthetic_frame(i, True, fps), clock, fbo, size)
            ctx.finish()
            dt = 1000.0 * (time.perf_counter() - t0)
            if i >= 10:
                (switch_ms if switching else other_ms).append(dt)
        show2.release()
    finally:
        show.release()
        fbo.release()
        ctx.release()
    period_ms = 1000.0 / fps
    lines += [
        f"frame period at {fps:g} fps: {period_ms:.2f} ms",
        "                              median     p99   (ms per frame)",
        f"liveai render() wall        {_pct(py_ms, 50):8.3f} {_pct(py_ms, 99):8.3f}",
        f"reference wall              {_pct(ref_py, 50):8.3f} {_pct(ref_py, 99):8.3f}",
        f"liveai render() thread CPU  {_pct(cpu_ms, 50):8.3f} {_pct(cpu_ms, 99):8.3f}"
        "   goal <= 2 ms (Python + driver calls on the render thread)",
        f"reference thread CPU        {_pct(ref_cpu, 50):8.3f} {_pct(ref_cpu, 99):8.3f}",
        f"liveai - reference CPU      {_pct(cpu_ms, 50) - _pct(ref_cpu, 50):8.3f}"
        "            (liveai's own bookkeeping)",
        f"liveai frame incl. GPU      {_pct(frame_ms, 50):8.3f} {_pct(frame_ms, 99):8.3f}",
        f"reference frame incl. GPU   {_pct(ref_frame, 50):8.3f} {_pct(ref_frame, 99):8.3f}",
        f"frames starting a switch    {_pct(switch_ms, 50):8.3f} {max(switch_ms or [0]):8.3f}"
        f"   (max; {len(switch_ms)} switches)",
        f"other frames                {_pct(other_ms, 50):8.3f} {_pct(other_ms, 99):8.3f}",
    ]
    return lines
