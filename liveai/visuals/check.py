"""``liveai scenes check``: compile and test-render scene files, one verdict per file.

Each file is parsed, compiled on an offscreen EGL context and drawn for a few frames of silence and
a few frames of a synthetic groove (beats at 120 BPM, moving bands and spectrum). A file passes when
it compiles, renders without a GL error, and gives finite pixels. The verdict also says whether the
picture moves and whether it reacts to the music, and lists the compatibility rules that fired.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import moderngl
import numpy as np

from liveai.config import SceneConfig
from liveai.frame import N_BANDS, SPECTRUM_BINS, WAVEFORM_SAMPLES, new_frame
from liveai.visuals.isf import ShaderError
from liveai.visuals.scene import RenderClock, Resources, Scene, read_rgb
from liveai.visuals.show import Layer

log = logging.getLogger(__name__)

#: Frames drawn per phase (silence, then music) when checking a file.
CHECK_FRAMES = 12
CHECK_FPS = 30.0


def synthetic_frame(index: int, music: bool, fps: float = CHECK_FPS) -> np.ndarray:
    """A FeatureFrame for tests and checks: silence, or a 120 BPM groove with moving bands.

    Parameters
    ----------
    index : int
        Frame number (one per rendered frame).
    music : bool
        False gives silence (all levels 0, no events).
    """
    f = new_frame()
    f["frame_index"] = index
    f["sample_rate_hz"] = 48000
    f["hop_samples"] = 512
    f["pitch_class"] = -1
    f["beat_in_bar"] = -1
    f["loudness_lufs"] = -70.0
    f["rms_db"] = -120.0
    f["peak_db"] = -120.0
    if not music:
        return f
    t_s = index / fps
    beat_s = 0.5  # 120 BPM
    beats = t_s / beat_s
    phase = beats - math.floor(beats)
    env = math.exp(-4.0 * phase)
    rng = np.random.default_rng(index)
    f["level"] = 0.45 + 0.5 * env
    f["rms_db"] = -20.0 + 12.0 * env
    f["peak_db"] = f["rms_db"] + 8.0
    f["loudness_lufs"] = -12.0
    f["momentary_lufs"] = -12.0 + 6.0 * env
    bands = np.clip(0.3 + 0.6 * env * np.linspace(1.0, 0.3, N_BANDS)
                    + 0.15 * rng.random(N_BANDS), 0.0, 1.0)
    f["band_level"] = bands
    f["band_db"] = -60.0 + 50.0 * bands
    x = np.linspace(0.0, 1.0, SPECTRUM_BINS)
    f["spectrum"] = np.clip((0.9 - 0.6 * x) * (0.6 + 0.4 * env) + 0.1 * rng.random(SPECTRUM_BINS),
                            0.0, 1.0)
    n = np.arange(WAVEFORM_SAMPLES)
    f["waveform"] = 0.8 * env * np.sin(2 * np.pi * n / 64.0 + index)
    chroma = np.zeros(12)
    chroma[(index // 8) % 12] = 1.0
    chroma[(index // 8 + 7) % 12] = 0.6
    f["chroma"] = chroma
    f["pitch_class"] = (index // 8) % 12
    count = int(beats)
    f["onset_count"] = count * 2 + (1 if phase > 0.5 else 0)
    f["onset_strength"] = env
    f["band_onset_count"] = (count, count // 2, count * 2 + (1 if phase > 0.5 else 0))
    f["band_onset_strength"] = (env, env, 0.5)
    f["tempo_bpm"] = 120.0
    f["tempo_confidence"] = 0.9
    f["beat_count"] = count
    f["beat_phase"] = phase
    f["next_beat_s"] = (1.0 - phase) * beat_s
    f["bar_count"] = count // 4
    f["beat_in_bar"] = count % 4
    f["bar_phase"] = ((count % 4) + phase) / 4.0
    f["energy"] = 0.6 + 0.3 * env
    f["section"] = 2  # groove
    return f


@dataclass
class CheckResult:
    """The verdict on one file."""

    path: str
    ok: bool
    reason: str = ""
    kind: str = ""
    moves: bool = False
    reacts: bool = False
    rules: list[str] = field(default_factory=list)

    def line(self) -> str:
        """``OK <path>`` or ``FAIL <path>: <reason>``."""
        if not self.ok:
            return f"FAIL {self.path}: {self.reason}"
        return f"OK {self.path}"


def render_sequence(scene: Scene | Any, resources: Resources, frames: list[np.ndarray],
                    size: tuple[int, int], fps: float = CHECK_FPS, start_index: int = 0
                    ) -> list[np.ndarray]:
    """Draw ``frames`` (one FeatureFrame per rendered frame); return the pictures (h, w, 3).

    ``scene`` is a :class:`Scene` or a :class:`liveai.visuals.show.Layer` (with its mappings).
    """
    out = []
    for i, fr in enumerate(frames):
        n = start_index + i
        clock = RenderClock(time_s=n / fps, delta_s=(1.0 / fps) if n else 0.0, frame_index=n,
                            date=(2026.0, 11.0, 25.0, 72000.0 + n / fps))
        resources.update(fr, clock)
        tex = scene.render(size, clock)
        out.append(read_rgb(tex))
    return out


def check_file(ctx: moderngl.Context, resources: Resources, path: str,
               size: tuple[int, int] = (192, 108), automap: bool = True) -> CheckResult:
    """Compile and test-render one scene file, as the live show would play it.

    With ``automap`` (the show's default) a scene that reads no audio gets its automatic
    mappings, listed among the rules.
    """
    try:
        layer = Layer(resources, Path(path), SceneConfig(), automap)
    except ShaderError as exc:
        return CheckResult(path, False, exc.reason if exc.line is None
                           else f"line {exc.line}: {exc.reason}")
    except Exception as exc:  # anything else a file can provoke is a FAIL for that file only
        return CheckResult(path, False, f"cannot load: {type(exc).__name__}: {exc}")
    scene = layer.scene
    doc = scene.doc
    rules = list(scene.rules)
    if layer.mapping is not None:
        rules += [f"automap: {m.source} -> {m.target}" for m in layer.mapping.mappings]
    try:
        # The same clock twice, from a clean start: once in silence, once with music, so any
        # difference between the two is the music's doing.
        resources.audio.reset()
        silent = render_sequence(layer, resources,
                                 [synthetic_frame(i, False) for i in range(CHECK_FRAMES)], size)
        layer.release()
        layer = None
        layer = Layer(resources, Path(path), SceneConfig(), automap)
        resources.audio.reset()
        music = render_sequence(layer, resources,
                                [synthetic_frame(i, True) for i in range(CHECK_FRAMES)], size)
        err = ctx.error
        if err != "GL_NO_ERROR":
            return CheckResult(path, False, f"OpenGL error while drawing: {err}",
                               rules=rules)
        # The output is 8-bit, but a FLOAT pass target can fill with NaN and stay black for good.
        for name, target in layer.scene.targets.items():
            tex = target.texture
            if tex.dtype == "f4" and not np.all(np.isfinite(np.frombuffer(tex.read(),
                                                                            np.float32))):
                return CheckResult(path, False, f"pass target '{name}' holds NaN/Inf values",
                                   rules=rules)
        moves = bool(np.abs(np.diff(np.stack(music), axis=0)).max() > 1.0 / 255.0)
        reacts = bool(max(np.abs(a - b).max() for a, b in zip(silent, music, strict=True))
                      > 2.0 / 255.0)
        kind = "shadertoy" if scene.is_shadertoy else doc.kind
        return CheckResult(path, True, kind=kind, moves=moves, reacts=reacts,
                           rules=rules)
    except Exception as exc:  # a driver fault while drawing: FAIL this file, check the rest
        return CheckResult(path, False, f"failed while drawing: {type(exc).__name__}: {exc}",
                           rules=rules)
    finally:
        if layer is not None:
            layer.release()


def check_files(paths: list[str], size: tuple[int, int] = (192, 108), automap: bool = True
                ) -> list[CheckResult]:
    """Check every file on one offscreen context (EGL), in order.

    Raises
    ------
    ShaderError
        No OpenGL 3.3 context can be created on this machine (reported against the first path).
    """
    try:
        ctx = moderngl.create_standalone_context(backend="egl", require=330)
    except Exception as exc:  # moderngl/glcontext raise plain Exceptions
        raise ShaderError(paths[0] if paths else "-",
                          f"no OpenGL 3.3 context (EGL) on this machine: {exc}") from None
    resources = Resources(ctx)
    try:
        return [check_file(ctx, resources, p, size, automap) for p in paths]
    finally:
        resources.release()
        ctx.release()


def expand_paths(items: list[str]) -> list[str]:
    """Files as given, and the ``.fs``/``.glsl`` files inside any folder given (sorted)."""
    out: list[str] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out.extend(str(f) for f in sorted(p.iterdir())
                       if f.suffix.lower() in (".fs", ".glsl", ".frag"))
        else:
            out.append(item)
    return out


def render_thumbnails(paths: list[str], out_dir: Path, size: tuple[int, int] = (320, 180)
                      ) -> Iterator[tuple[str, Path | str]]:
    """Render one PNG per scene on the synthetic groove (a frame on a beat, after 2 s).

    Yields
    ------
    (path, result)
        The PNG written, or the reason the scene could not be drawn.
    """
    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = moderngl.create_standalone_context(backend="egl", require=330)
    resources = Resources(ctx)
    try:
        for path in paths:
            try:
                layer = Layer(resources, Path(path), SceneConfig(), True)
            except ShaderError as exc:
                yield path, exc.reason
                continue
            resources.audio.reset()
            pics = render_sequence(layer, resources,
                                   [synthetic_frame(i, True) for i in range(61)], size)
            layer.release()
            png = out_dir / f"{Path(path).stem}.png"
            Image.fromarray((pics[-1] * 255.0 + 0.5).astype(np.uint8)).save(png)
            yield path, png
    finally:
        resources.release()
        ctx.release()
