"""Offline rendering: a track through the analysis and the visual show, to PNG frames or a video.

``liveai render AUDIO --preset P --out DIR --size WxH --fps N`` runs the same streaming analysis
as the live engine over the file, hop by hop, and draws video frame ``n`` from the latest
FeatureFrame whose audio ends at or before ``n / fps`` seconds, with ``TIME = n / fps``: the
result is frame-exact with the audio and the same on every run. Rendering goes through EGL, so
no screen is needed. With ``--out NAME.mp4`` (or .mov/.mkv/.webm) and ``ffmpeg`` on the PATH the
frames are piped to ffmpeg with the track as the sound.

This module wires the analysis to the visuals, like :mod:`liveai.app` does for the live show, but
it opens a GL context itself, which the engine never does.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from liveai.analysis.pipeline import FrameAnalyzer
from liveai.config import ShowConfig
from liveai.errors import LiveAIError, SourceError
from liveai.frame import new_frame

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm")


def _read_audio(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as exc:  # soundfile raises LibsndfileError (RuntimeError)
        raise SourceError(f"{path}: cannot read this audio file ({exc})") from None
    if data.shape[0] == 0:
        raise SourceError(f"{path}: the file holds no audio")
    return data, int(sr)


def render_track(audio_path: str | Path, config: ShowConfig, out: str | Path,
                 size: tuple[int, int], fps: float, base_dir: Path | None = None,
                 seconds: float | None = None,
                 progress: Callable[[int, int], None] | None = None) -> dict:
    """Render a track offline.

    Parameters
    ----------
    audio_path : path
        Any file libsndfile reads.
    config : ShowConfig
        The preset (its ``visuals`` and ``analysis`` tables are used).
    out : path
        A folder for ``frame_000000.png`` ..., or a video file name (needs ffmpeg).
    size : (width, height)
        Pixels.
    fps : float
        Video frame rate.
    base_dir : Path, optional
        The preset's folder (for relative shader paths).
    seconds : float, optional
        Render only the first seconds.
    progress : callable, optional
        Called with (frames done, frames total).

    Returns
    -------
    dict
        ``frames``, ``seconds``, ``out``, ``wall_s``, ``scenes``.

    Raises
    ------
    SourceError
        Unreadable or empty audio.
    LiveAIError
        No OpenGL (EGL) context, or a video name without ffmpeg.
    """
    import moderngl  # only rendering needs GL

    from liveai.visuals.scene import RenderClock, safe_size
    from liveai.visuals.show import VisualShow

    audio, sr = _read_audio(Path(audio_path))
    out = Path(out)
    video = out.suffix.lower() in VIDEO_SUFFIXES
    ffmpeg = shutil.which("ffmpeg")
    if video and ffmpeg is None:
        raise LiveAIError(f"{out}: writing a video needs ffmpeg (apt-get install ffmpeg); "
                          "give a folder to get PNG frames instead")
    duration_s = audio.shape[0] / sr
    if seconds is not None:
        duration_s = min(duration_s, seconds)
    n_frames = max(1, int(duration_s * fps))
    width, height = safe_size(*size)
    try:
        ctx = moderngl.create_standalone_context(backend="egl", require=330)
    except Exception as exc:  # moderngl/glcontext raise plain Exceptions
        raise LiveAIError(f"cannot create an offscreen OpenGL 3.3 context (EGL): {exc}") from None
    show = VisualShow(ctx, config.visuals, base_dir)
    # The video is muxed sample-exact with the audio: no projector delay to make up for.
    show.resources.audio.visual_latency_s = 0.0
    fbo = ctx.simple_framebuffer((width, height))
    hop = config.analysis.hop_length
    analyzer = FrameAnalyzer(sr, hop, config.analysis.n_fft, audio.shape[1])
    frame = new_frame()
    frame["sample_rate_hz"] = sr
    frame["hop_samples"] = hop
    hop_buf = np.zeros((hop, audio.shape[1]), dtype=np.float32)
    pos = 0
    proc = None
    if video:
        cmd = [ffmpeg, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", f"{fps}", "-i", "-", "-i", str(audio_path),
               "-t", f"{n_frames / fps:.3f}", "-map", "0:v", "-map", "1:a", "-shortest",
               "-pix_fmt", "yuv420p", str(out)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    else:
        out.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    t0 = time.perf_counter()
    try:
        for n in range(n_frames):
            t_s = n / fps
            # Every hop whose audio ends by this frame's time has been analysed.
            target_samples = int(round(t_s * sr))
            while pos + hop <= target_samples and pos < audio.shape[0]:
                chunk = audio[pos:pos + hop]
                hop_buf[: len(chunk)] = chunk
                hop_buf[len(chunk):] = 0.0
                analyzer.process_hop(hop_buf, frame)
                frame["frame_index"] += 1
                pos += hop
            clock = RenderClock(time_s=t_s, delta_s=(1.0 / fps) if n else 0.0, frame_index=n,
                                date=(2026.0, 1.0, 1.0, t_s))
            show.render(frame, clock, fbo, (width, height))
            rgb = np.frombuffer(fbo.read(components=3), dtype=np.uint8).reshape(
                height, width, 3)[::-1]
            if proc is not None:
                try:
                    proc.stdin.write(rgb.tobytes())
                except BrokenPipeError:
                    raise LiveAIError("ffmpeg stopped accepting frames (see its message "
                                      "above)") from None
            else:
                Image.fromarray(rgb).save(out / f"frame_{n:06d}.png", compress_level=1)
            if progress is not None:
                progress(n + 1, n_frames)
    finally:
        if proc is not None:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass  # ffmpeg stopped early; its exit code says why
            proc.wait()
        scenes = show.scene_names
        show.release()
        fbo.release()
        ctx.release()
    if proc is not None and proc.returncode != 0:
        raise LiveAIError(f"ffmpeg failed (exit code {proc.returncode}) writing {out}")
    return {"frames": n_frames, "seconds": n_frames / fps, "out": str(out),
            "wall_s": time.perf_counter() - t0, "scenes": scenes}


def progress_bar(label: str) -> Callable[[int, int], None]:
    """A progress bar on stderr (redrawn at most 10 times a second)."""
    state = {"t": 0.0}

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done != total and now - state["t"] < 0.1:
            return
        state["t"] = now
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
