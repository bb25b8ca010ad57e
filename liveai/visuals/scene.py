"""GL resources of scenes: compiled ISF / Shadertoy programs, pass targets, audio textures.

The parsing and GLSL translation live in :mod:`liveai.visuals.isf` and
:mod:`liveai.visuals.shadertoy`; this module turns their sources into moderngl programs and draws
them. One :class:`Resources` per GL context holds what every scene shares (the full-screen quad,
the audio textures, the built-in input picture, default channel textures); a :class:`Scene` owns
its programs and targets and draws into its own output texture, so a compositor can mix scenes.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moderngl
import numpy as np

from liveai.visuals import isf as isf_mod
from liveai.visuals import shadertoy as st_mod
from liveai.visuals.isf import IMAGE_TYPES, IsfDocument, ShaderError
from liveai.visuals.playlist import load_document
from liveai.visuals.shadertoy import ShadertoyDocument
from liveai.visuals.uniforms import AUDIO_UNIFORMS, AudioState

log = logging.getLogger(__name__)

#: Size of Shadertoy's audio texture: row 0 spectrum, row 1 waveform.
SHADERTOY_AUDIO_SIZE = (512, 2)

_ERROR_RE = re.compile(r"^\s*\d+:(\d+)\(\d+\):\s*error:\s*(.+)$", re.M)
_ERROR_RE_NV = re.compile(r"^\s*\d+\((\d+)\)\s*:\s*error\s*\w*:\s*(.+)$", re.M)

#: Vertex shader of every host-side pass (built-in source, mix, present, overlay): the quad,
#: with ``uv`` 0..1 from the bottom-left.
FULLSCREEN_VS = """#version 330
in vec2 isf_position;
out vec2 uv;
void main() { uv = isf_position * 0.5 + 0.5; gl_Position = vec4(isf_position, 0.0, 1.0); }
"""

# The built-in picture filters get when nothing feeds their inputImage: colour bars drifting
# with the beat clock, rings breathing with the bass, so a filter shows its effect and moves.
_SOURCE_FS = """#version 330
in vec2 uv;
out vec4 color;
uniform float t_s;
uniform float beats;
uniform float bass;
uniform float level;
uniform float aspect;
void main() {
    vec2 p = uv;
    float bars = floor(fract(p.x + 0.125 * beats) * 8.0) / 8.0;
    vec3 c = 0.5 + 0.5 * cos(6.2831 * (bars + vec3(0.0, 0.33, 0.67)));
    vec2 q = (p - 0.5) * vec2(aspect, 1.0);
    float r = length(q);
    float ring = smoothstep(0.02, 0.0, abs(fract(r * 6.0 - 0.5 * t_s) - 0.5) - 0.1 - 0.2 * bass);
    c = mix(c * (0.35 + 0.65 * level), vec3(1.0), 0.6 * ring);
    float grid = step(0.96, fract(p.x * 16.0)) + step(0.96, fract(p.y * 9.0));
    c = mix(c, vec3(0.05), 0.5 * clamp(grid, 0.0, 1.0));
    color = vec4(c, 1.0);
}
"""


@dataclass
class RenderClock:
    """The time a frame is drawn at.

    Attributes
    ----------
    time_s : float
        Seconds since the scene (or show) started: ``TIME``, ``iTime``.
    delta_s : float
        Seconds since the previous frame (0 on the first): ``TIMEDELTA``, ``iTimeDelta``.
    frame_index : int
        ``FRAMEINDEX``, ``iFrame``.
    date : tuple of 4 floats
        year, month, day, seconds of the day.
    """

    time_s: float = 0.0
    delta_s: float = 0.0
    frame_index: int = 0
    date: tuple[float, float, float, float] = (2026.0, 1.0, 1.0, 0.0)

    @staticmethod
    def date_now() -> tuple[float, float, float, float]:
        """DATE for the wall clock now."""
        now = _dt.datetime.now()
        secs = now.hour * 3600 + now.minute * 60 + now.second + now.microsecond * 1e-6
        return (float(now.year), float(now.month), float(now.day), secs)


def compile_program(ctx: moderngl.Context, vertex: str, fragment: str, path: str,
                    has_vs: bool = False) -> moderngl.Program:
    """Compile and link, turning the driver's log into a :class:`ShaderError` with the line.

    Raises
    ------
    ShaderError
        The shader does not compile or link; ``line`` is the line in the user's file.
    """
    try:
        return ctx.program(vertex_shader=vertex, fragment_shader=fragment)
    except moderngl.Error as exc:
        text = str(exc)
        m = _ERROR_RE.search(text) or _ERROR_RE_NV.search(text)
        stage = "vertex shader (.vs)" if has_vs and "vertex_shader\n" in text and (
            m is None or text.find("vertex_shader") < text.find(m.group(0))) else ""
        if m:
            message = m.group(2).strip()
            if stage:
                message = f"{stage}: {message}"
            raise ShaderError(path, message, int(m.group(1))) from None
        detail = " ".join(line.strip() for line in text.splitlines()
                          if line.strip() and not set(line.strip()) <= {"="})
        raise ShaderError(path, f"does not compile: {detail[:300]}") from None


def _image_rgba(path: Path) -> np.ndarray:
    """Load a picture as RGBA8 rows bottom-up (GL's origin)."""
    from PIL import Image  # imported lazily: only IMPORTED images need it

    with Image.open(path) as img:
        arr = np.asarray(img.convert("RGBA"), dtype=np.uint8)
    return np.ascontiguousarray(arr[::-1])


class Resources:
    """What every scene on one GL context shares.

    Parameters
    ----------
    ctx : moderngl.Context
        A GL 3.3 core context.
    source_size : tuple of int
        Size of the built-in input picture, pixels.
    """

    def __init__(self, ctx: moderngl.Context, source_size: tuple[int, int] = (640, 360)) -> None:
        self.ctx = ctx
        quad = np.array([-1, -1, 1, -1, -1, 1, 1, 1], dtype="f4")
        self.quad = ctx.buffer(quad.tobytes())
        self.audio = AudioState()
        self.spectrum = self._float_texture((len(self.audio.spectrum), 1))
        self.spectrum_log = self._float_texture((len(self.audio.spectrum_log), 1))
        self.waveform = self._float_texture((len(self.audio.waveform), 1))
        h = self.audio.history
        self.history = self._float_texture((h.shape[1], h.shape[0]))
        self.shadertoy_audio = self._float_texture(SHADERTOY_AUDIO_SIZE, nearest=True)
        self._st_audio = np.zeros(SHADERTOY_AUDIO_SIZE[::-1], dtype=np.float32)
        self._smoothed_spectrum = np.zeros(SHADERTOY_AUDIO_SIZE[0], dtype=np.float32)
        rng = np.random.default_rng(20261125)
        self.noise = ctx.texture((256, 256), 4, rng.integers(0, 256, (256, 256, 4),
                                                            dtype=np.uint8).tobytes())
        self.noise.repeat_x = self.noise.repeat_y = True
        self.noise.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self._audio_cache: dict[tuple[str, int], tuple[moderngl.Texture, int]] = {}
        self._generation = 0
        self.source = ctx.texture(source_size, 4)
        self.source.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.source.repeat_x = self.source.repeat_y = False
        self._source_fbo = ctx.framebuffer([self.source])
        self._source_prog = ctx.program(vertex_shader=FULLSCREEN_VS, fragment_shader=_SOURCE_FS)
        self._source_vao = ctx.vertex_array(self._source_prog, [(self.quad, "2f", "isf_position")])
        self._images: dict[Path, moderngl.Texture] = {}

    def _float_texture(self, size: tuple[int, int], nearest: bool = False) -> moderngl.Texture:
        tex = self.ctx.texture(size, 1, dtype="f4")
        f = moderngl.NEAREST if nearest else moderngl.LINEAR
        tex.filter = (f, f)
        tex.repeat_x = tex.repeat_y = False
        return tex

    def update(self, frame: np.ndarray, clock: RenderClock) -> None:
        """Advance the audio state and refresh the shared textures (once per rendered frame)."""
        a = self.audio
        a.update(frame, clock.time_s, clock.delta_s)
        self.spectrum.write(a.spectrum.tobytes())
        self.spectrum_log.write(a.spectrum_log.tobytes())
        self.waveform.write(a.waveform.tobytes())
        self.history.write(a.history.tobytes())
        # Shadertoy's analyser smooths magnitudes with 0.8 between its frames.
        self._smoothed_spectrum *= 0.8
        self._smoothed_spectrum += 0.2 * a.spectrum[: SHADERTOY_AUDIO_SIZE[0]]
        self._st_audio[0] = self._smoothed_spectrum
        self._st_audio[1] = a.waveform[: SHADERTOY_AUDIO_SIZE[0]]
        self.shadertoy_audio.write(self._st_audio.tobytes())
        self._generation += 1
        p = self._source_prog
        for name, value in (("t_s", clock.time_s), ("beats", a.values["la_beats"]),
                            ("bass", a.values["la_bass"]), ("level", a.values["la_level"]),
                            ("aspect", self.source.width / self.source.height)):
            if name in p:
                p[name].value = float(value)
        self._source_fbo.use()
        self._source_vao.render(moderngl.TRIANGLE_STRIP)

    def audio_texture(self, kind: str, columns: int) -> moderngl.Texture:
        """The texture for an ISF ``audio``/``audioFFT`` input of ``columns`` columns.

        Two rows (ISF gives one row per channel; liveai's analysis is mono, so both rows carry
        it), float, linear, clamped; refreshed at most once per rendered frame.
        """
        key = (kind, int(columns))
        tex, gen = self._audio_cache.get(key, (None, -1))
        if tex is None:
            tex = self._float_texture((int(columns), 2))
        if gen != self._generation:
            row = self.audio.spectrum if kind == "audioFFT" else self.audio.waveform
            if len(row) != columns:
                x = np.linspace(0.0, len(row) - 1.0, int(columns))
                row = np.interp(x, np.arange(len(row)), row).astype(np.float32)
            tex.write(np.concatenate([row, row]).astype(np.float32).tobytes())
            self._audio_cache[key] = (tex, self._generation)
        return tex

    def image(self, path: Path) -> moderngl.Texture:
        """An IMPORTED picture, loaded once per context.

        Raises
        ------
        ShaderError
            The file is missing or not a picture.
        """
        path = Path(path)
        if path not in self._images:
            try:
                rgba = _image_rgba(path)
            except (OSError, ValueError) as exc:
                raise ShaderError(str(path), f"cannot load the imported image: {exc}") from None
            tex = self.ctx.texture((rgba.shape[1], rgba.shape[0]), 4, rgba.tobytes())
            tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            self._images[path] = tex
        return self._images[path]

    def release(self) -> None:
        """Free every GL object."""
        objs = [self.quad, self.spectrum, self.spectrum_log, self.waveform, self.history,
                self.shadertoy_audio,
                self.noise, self.source, self._source_fbo, self._source_prog,
                self._source_vao, *self._images.values(),
                *(t for t, _ in self._audio_cache.values())]
        for obj in objs:
            obj.release()
        self._images.clear()
        self._audio_cache.clear()


class _Target:
    """A pass target: two textures so a pass can read its previous contents while drawing."""

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int], float_target: bool) -> None:
        self.size = size
        self.textures = []
        self.fbos = []
        for _ in range(2):
            tex = ctx.texture(size, 4, dtype="f4" if float_target else "f1")
            tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            tex.repeat_x = tex.repeat_y = False
            fbo = ctx.framebuffer([tex])
            fbo.clear(0.0, 0.0, 0.0, 0.0)
            self.textures.append(tex)
            self.fbos.append(fbo)
        self.front = 0

    @property
    def texture(self) -> moderngl.Texture:
        """What readers see: the last finished drawing."""
        return self.textures[self.front]

    @property
    def back_fbo(self) -> moderngl.Framebuffer:
        """Where the next drawing goes."""
        return self.fbos[1 - self.front]

    def swap(self) -> None:
        """Make the drawing just finished the one readers see."""
        self.front = 1 - self.front

    def release(self) -> None:
        """Free the textures and framebuffers."""
        for obj in (*self.fbos, *self.textures):
            obj.release()


class Scene:
    """A compiled scene (ISF or Shadertoy) drawing into its own output texture.

    Parameters
    ----------
    resources : Resources
        The context's shared objects.
    doc : IsfDocument or ShadertoyDocument
        The parsed file.

    Raises
    ------
    ShaderError
        The scene does not compile, or an IMPORTED image cannot be loaded.
    """

    def __init__(self, resources: Resources, doc: IsfDocument | ShadertoyDocument) -> None:
        self.resources = resources
        self.ctx = resources.ctx
        self.doc = doc
        self.path = str(doc.path)
        self.is_shadertoy = isinstance(doc, ShadertoyDocument)
        if self.is_shadertoy:
            vertex, fragment, self.rules = st_mod.build_sources(doc)
        else:
            vertex, fragment, self.rules = isf_mod.build_sources(doc)
        self.program = compile_program(self.ctx, vertex, fragment, self.path,
                                       getattr(doc, "vertex_source", None) is not None)
        self.vao = self.ctx.vertex_array(self.program, [(resources.quad, "2f", "isf_position")],
                                         skip_errors=True)
        self.members = set(self.program)
        self.values: dict[str, Any] = {}
        self.inputs: dict[str, isf_mod.IsfInput] = {}
        self.images: dict[str, moderngl.Texture] = {}
        self.targets: dict[str, _Target] = {}
        self._pending_events: set[str] = set()
        self.imported: dict[str, moderngl.Texture] = {}
        if not self.is_shadertoy:
            for inp in doc.inputs:
                self.inputs[inp.name] = inp
                self.values[inp.name] = inp.default
            for imp in doc.imported:
                self.imported[imp.name] = resources.image(imp.path)
        self._units: dict[str, int] = {}
        for name in self.members:
            if isinstance(self.program[name], moderngl.Uniform) and self._is_sampler(name):
                self._units[name] = len(self._units)
                self.program[name].value = self._units[name]
        self.output: moderngl.Texture | None = None
        self._output_fbo: moderngl.Framebuffer | None = None
        self.size = (0, 0)
        self.frames_rendered = 0

    # -- inputs --------------------------------------------------------------------------------
    def _is_sampler(self, name: str) -> bool:
        if self.is_shadertoy:
            return name.startswith("iChannel") and name[-1].isdigit()
        if name in ("la_spectrum", "la_spectrum_log", "la_waveform", "la_history"):
            return True
        inp = self.doc.input(name) if not self.is_shadertoy else None
        if inp is not None:
            return inp.type in IMAGE_TYPES
        return name in {p.target for p in self.doc.passes} or name in {
            i.name for i in self.doc.imported}

    def set_value(self, name: str, value: Any) -> None:
        """Set an input's value (events fire for exactly one frame).

        Raises
        ------
        KeyError
            The scene has no such input.
        """
        inp = self.inputs[name]
        if inp.type == "event":
            if value:
                self._pending_events.add(name)
            return
        self.values[name] = value

    def set_image(self, name: str, texture: moderngl.Texture | None) -> None:
        """Feed an ``image`` input (None = the built-in picture)."""
        if texture is None:
            self.images.pop(name, None)
        else:
            self.images[name] = texture

    # -- drawing -------------------------------------------------------------------------------
    def _ensure_output(self, size: tuple[int, int]) -> None:
        if self.output is not None and self.size == size:
            return
        if self.output is not None:
            self._output_fbo.release()
            self.output.release()
        self.output = self.ctx.texture(size, 4)
        self.output.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.output.repeat_x = self.output.repeat_y = False
        self._output_fbo = self.ctx.framebuffer([self.output])
        self._output_fbo.clear(0.0, 0.0, 0.0, 1.0)
        self.size = size

    def _set(self, name: str, value: Any) -> None:
        if name not in self.members:
            return
        u = self.program[name]
        if u.array_length > 1:
            u.value = tuple(value[: u.array_length])
        elif isinstance(value, (tuple, list)) and u.dimension == 1:
            u.value = value[0]
        else:
            u.value = value

    def _bind(self, name: str, tex: moderngl.Texture) -> None:
        unit = self._units.get(name)
        if unit is not None:
            tex.use(unit)
        size = (float(tex.width), float(tex.height))
        self._set(f"_{name}_imgSize", size)
        self._set(f"_{name}_imgRect", (0.0, 0.0, *size))
        self._set(f"_{name}_flip", False)

    def render(self, size: tuple[int, int], clock: RenderClock) -> moderngl.Texture:
        """Draw one frame at ``size`` and return the output texture.

        Call :meth:`Resources.update` once per frame before rendering the frame's scenes.
        """
        self._ensure_output(size)
        audio = self.resources.audio.values
        for name, gtype, _ in AUDIO_UNIFORMS:
            if gtype != "sampler2D":
                key = name.split("[")[0]
                if key in self.members:
                    self._set(key, audio[key])
        res = self.resources
        for name, tex in (("la_spectrum", res.spectrum), ("la_spectrum_log", res.spectrum_log),
                          ("la_waveform", res.waveform),
                          ("la_history", res.history)):
            if name in self._units:
                tex.use(self._units[name])
        if self.is_shadertoy:
            self._render_shadertoy(size, clock)
            out = self.output
        else:
            out = self._render_isf(size, clock)
        self.frames_rendered += 1
        return out

    def _render_shadertoy(self, size: tuple[int, int], clock: RenderClock) -> None:
        res = self.resources
        w, h = size
        self._set("iResolution", (float(w), float(h), 1.0))
        self._set("iTime", clock.time_s)
        self._set("iTimeDelta", clock.delta_s)
        self._set("iFrameRate", 1.0 / clock.delta_s if clock.delta_s > 0 else 60.0)
        self._set("iFrame", clock.frame_index)
        self._set("iChannelTime", (clock.time_s,) * 4)
        year, month, day, secs = clock.date
        self._set("iDate", (year, month - 1.0, day, secs))
        self._set("iMouse", (0.0, 0.0, 0.0, 0.0))
        self._set("iSampleRate", 48000.0)
        resolutions = []
        for c in range(4):
            tex = res.shadertoy_audio if c == 0 else res.noise
            resolutions.extend([float(tex.width), float(tex.height), 1.0])
            name = f"iChannel{c}"
            if name in self._units:
                tex.use(self._units[name])
        if "iChannelResolution" in self.members:
            u = self.program["iChannelResolution"]
            n = max(1, u.array_length)
            u.value = tuple(tuple(resolutions[3 * i: 3 * i + 3]) for i in range(n)) if n > 1 \
                else tuple(resolutions[:3])
        self._output_fbo.use()
        self.vao.render(moderngl.TRIANGLE_STRIP)

    def _render_isf(self, size: tuple[int, int], clock: RenderClock) -> moderngl.Texture:
        res = self.resources
        self._set("TIME", clock.time_s)
        self._set("TIMEDELTA", clock.delta_s)
        self._set("FRAMEINDEX", clock.frame_index)
        self._set("DATE", clock.date)
        fired = self._pending_events
        self._pending_events = set()
        for name, inp in self.inputs.items():
            if inp.type == "event":
                self._set(name, name in fired)
            elif inp.type == "image":
                self._bind(name, self.images.get(name, res.source))
            elif inp.type in ("audio", "audioFFT"):
                self._bind(name, res.audio_texture(inp.type, inp.audio_columns))
            else:
                self._set(name, self.values[name])
        for name, tex in self.imported.items():
            self._bind(name, tex)
        passes = self.doc.passes
        out = self.output
        for index, pss in enumerate(passes):
            if pss.target:
                want = isf_mod.target_size(pss, size, self.values)
                tgt = self.targets.get(pss.target)
                if tgt is None or tgt.size != want:
                    if tgt is not None:
                        self._output_fbo.use()
                        tgt.release()
                    tgt = _Target(self.ctx, want, pss.float_target)
                    self.targets[pss.target] = tgt
                pass_size, fbo = want, tgt.back_fbo
            else:
                tgt, pass_size, fbo = None, size, self._output_fbo
            for name, t in self.targets.items():
                self._bind(name, t.texture)
            self._set("PASSINDEX", index)
            self._set("RENDERSIZE", (float(pass_size[0]), float(pass_size[1])))
            fbo.use()
            self.vao.render(moderngl.TRIANGLE_STRIP)
            if tgt is not None:
                tgt.swap()
                if index == len(passes) - 1:
                    out = tgt.texture
        return out

    def reset(self) -> None:
        """Start over: clear persistent targets and pending events (inputs keep their values)."""
        if self._output_fbo is not None:
            self._output_fbo.use()  # never leave a framebuffer that is about to go bound
        for t in self.targets.values():
            t.release()
        self.targets.clear()
        self._pending_events.clear()
        if self._output_fbo is not None:
            self._output_fbo.clear(0.0, 0.0, 0.0, 1.0)
        self.frames_rendered = 0

    def release(self) -> None:
        """Free the scene's GL objects (shared resources stay)."""
        for t in self.targets.values():
            t.release()
        self.targets.clear()
        for obj in (self._output_fbo, self.output, self.vao, self.program):
            if obj is not None:
                obj.release()
        self.output = None


def read_rgb(texture: moderngl.Texture) -> np.ndarray:
    """Read a texture back as an (height, width, 3) float32 array, 0..1, top row first."""
    dtype = np.float32 if texture.dtype == "f4" else np.uint8
    data = np.frombuffer(texture.read(), dtype=dtype).reshape(
        texture.height, texture.width, texture.components)[::-1, :, :3].astype(np.float32)
    if dtype is np.uint8:
        data /= 255.0
    return np.clip(np.nan_to_num(data, nan=0.0), 0.0, 1.0)


def safe_size(width: int, height: int) -> tuple[int, int]:
    """Clamp a requested render size to something every GL 3.3 driver allocates."""
    return (int(min(max(width, 1), 8192)), int(min(max(height, 1), 8192)))


__all__ = ["RenderClock", "Resources", "Scene", "ShaderError", "compile_program",
           "load_document", "read_rgb", "safe_size"]
