"""The visual show: a playlist of scenes, mappings, transitions, the autopilot and hot reload.

One :class:`VisualShow` per GL context. Every frame it advances the audio state, draws the current
scene (and the next one during a transition), mixes them, and presents the result with the master
intensity, blackout and freeze applied, plus the status overlay.

No stalls: every scene of the playlist is compiled when the show starts, so a switch only binds
programs that already exist. A hot reload compiles the changed file on the render thread (one
frame takes longer, once, while the VJ edits) and swaps it in only when it compiled; until then
the old version keeps drawing.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moderngl
import numpy as np

from liveai.config import MappingConfig, SceneConfig, VisualsConfig
from liveai.frame import INPUT_LOST
from liveai.visuals.isf import IsfDocument, ShaderError, parse_isf
from liveai.visuals.mapping import (
    MappingEngine,
    MappingError,
    input_range,
)
from liveai.visuals.playlist import (
    all_scene_files,
    coerce_param,
    load_document,
    playlist_entries,
    playlist_keys,
    resolve_scene,
    scene_key,
    scene_mappings,
    scene_search_dirs,
)
from liveai.visuals.scene import FULLSCREEN_VS, RenderClock, Resources, Scene

log = logging.getLogger(__name__)

#: Seconds a hot-reload error stays on screen when the overlay is off.
ERROR_BANNER_S = 8.0
#: How often scene files are checked for changes.
RELOAD_POLL_S = 0.25

#: Drawn when no scene at all can be loaded, so the screen never goes black for that reason.
FALLBACK_SCENE = """/*{
  "ISFVSN": "2", "DESCRIPTION": "liveai fallback: band meter and spectrum", "INPUTS": []
}*/
void main() {
    vec2 uv = isf_FragNormCoord;
    vec3 c = vec3(0.02, 0.02, 0.05);
    if (uv.y > 0.5) {
        int b = int(min(floor(uv.x * 8.0), 7.0));
        float h = (uv.y - 0.5) * 2.0;
        if (fract(uv.x * 8.0) > 0.08 && h < la_bands[b]) c = mix(vec3(0.1, 0.9, 0.4),
                                                                 vec3(1.0, 0.3, 0.1), h);
    } else {
        float s = texture(la_spectrum, vec2(uv.x * uv.x, 0.5)).r;
        if (uv.y * 2.0 < s) c = mix(vec3(0.2, 0.4, 1.0), vec3(0.9, 0.3, 1.0), uv.y * 2.0);
    }
    c += 0.25 * la_beat_ahead;
    gl_FragColor = vec4(c, 1.0);
}
"""

_PRESENT_FS = """#version 330
in vec2 uv;
out vec4 color;
uniform sampler2D image_a;
uniform sampler2D image_b;
uniform float mix_b;
uniform float gain;
void main() {
    vec3 a = texture(image_a, uv).rgb;
    vec3 b = texture(image_b, uv).rgb;
    color = vec4(mix(a, b, mix_b) * gain, 1.0);
}
"""
_OVERLAY_FS = """#version 330
in vec2 uv;
out vec4 color;
uniform sampler2D overlay;
uniform vec4 rect;  // x, y, w, h in 0..1 of the output
void main() {
    vec2 p = (uv - rect.xy) / rect.zw;
    if (any(lessThan(p, vec2(0.0))) || any(greaterThan(p, vec2(1.0)))) discard;
    color = texture(overlay, p);
}
"""


class Layer:
    """One playlist entry: the compiled scene, its input values and its mappings.

    Parameters
    ----------
    resources : Resources
        The GL context's shared objects.
    path : Path
        The scene file.
    entry : SceneConfig
        Values and mappings from the preset.
    automap : bool
        Give a scene that reads no audio automatic mappings (when the preset maps nothing).

    Raises
    ------
    ShaderError
        The file does not load or compile.
    """

    def __init__(self, resources: Resources, path: Path, entry: SceneConfig,
                 automap: bool = True, text: str | None = None) -> None:
        self.resources = resources
        self.path = path
        self.entry = entry
        self.automap = automap
        self.name = path.stem
        #: Address segment of the scene's inputs (``/liveai/scenes/<key>/<input>``).
        self.key = scene_key(path.stem)
        self.error = ""
        self.mtime_ns = self._mtime()
        doc = parse_isf(text, path) if text is not None else load_document(path)
        self.scene = self._build(doc)

    def _mtime(self) -> int:
        try:
            st = self.path.stat()
            vs = self.path.with_suffix(".vs")
            return st.st_mtime_ns + (vs.stat().st_mtime_ns if vs.is_file() else 0)
        except OSError:
            return 0

    def _build(self, doc: Any) -> Scene:
        scene = Scene(self.resources, doc)
        self.mapping: MappingEngine | None = None
        self.base: dict[str, Any] = {}
        if isinstance(doc, IsfDocument):
            for key, value in self.entry.params.items():
                inp = doc.input(key)
                if inp is None:
                    log.warning("%s: preset sets '%s', but the scene has no such input "
                                "(inputs: %s)", self.path.name, key,
                                ", ".join(i.name for i in doc.inputs) or "none")
                    continue
                try:
                    scene.set_value(key, coerce_param(inp, value))
                except ValueError as exc:
                    log.warning("%s: input '%s': %s; keeping its default", self.path.name, key,
                                exc)
            good = scene_mappings(doc, self.entry, self.automap, self.path.name)
            self.mapping = MappingEngine(doc, good) if good else None
            #: The mappings as the preset (or the automatic choice) made them; live changes
            #: from the desk (/liveai/mappings/...) are made relative to these.
            self.mapping_defaults = list(good)
            self.base = dict(scene.values)
        return scene

    @property
    def description(self) -> str:
        """The scene's one-line description."""
        return self.scene.doc.description

    def render(self, size: tuple[int, int], clock: RenderClock) -> moderngl.Texture:
        """Apply the mappings and draw one frame."""
        if self.mapping is not None:
            for name, value in self.mapping.apply(self.resources.audio.values, self.base,
                                                  clock.delta_s).items():
                self.scene.set_value(name, value)
        return self.scene.render(size, clock)

    def set_input(self, name: str, value: Any) -> None:
        """Set an input by hand (the VJ's value; mappings modulate around it).

        A float input that a mapping drives moves the mapping instead: its swing keeps its
        depth and starts from the new value (``offset`` shifts by the change, in units of the
        input's range), so a desk fader and the music work together.
        """
        old = self.base.get(name)
        self.scene.set_value(name, value)
        if name in self.base:
            self.base[name] = value
        if self.mapping is None or not isinstance(old, int | float) or isinstance(old, bool):
            return
        inp = self.scene.doc.input(name)
        if inp is None or inp.type != "float" or not isinstance(value, int | float):
            return
        lo, hi = input_range(inp)
        if hi == lo:
            return
        shift = (float(value) - float(old)) / (hi - lo)
        self.mapping.mappings = [
            dataclasses.replace(m, offset=m.offset + shift) if m.target == name else m
            for m in self.mapping.mappings]

    def set_mapping(self, index: int, **changes: Any) -> None:
        """Change one mapping live (``source``, ``curve``, ``scale``, ``attack_ms`` ...).

        Raises
        ------
        MappingError
            The change names an unknown feature or curve; the mapping stays as it was.
        """
        if self.mapping is None or not 0 <= index < len(self.mapping.mappings):
            raise MappingError(f"{self.name} has no mapping {index + 1}")
        new = dataclasses.replace(self.mapping.mappings[index], **changes)
        new.validate(self.scene.doc)
        self.mapping.mappings[index] = new

    def changed_on_disk(self) -> bool:
        """True when the file (or its .vs) changed since it was loaded."""
        return self._mtime() != self.mtime_ns

    def reload(self) -> bool:
        """Recompile from disk; on failure keep the running version and set :attr:`error`."""
        self.mtime_ns = self._mtime()
        try:
            new = self._build(load_document(self.path))
        except ShaderError as exc:
            self.error = str(exc)
            log.error("scene did not compile, the last good version keeps running: %s", exc)
            return False
        self.scene.release()
        self.scene = new
        self.error = ""
        log.info("scene reloaded: %s", self.path)
        return True

    def release(self) -> None:
        """Free the scene's GL objects."""
        self.scene.release()


@dataclass
class _Transition:
    target: int
    start_s: float
    duration_s: float


class VisualShow:
    """Scenes, transitions, autopilot, master controls and overlay on one GL context.

    Parameters
    ----------
    ctx : moderngl.Context
        GL 3.3 core context.
    config : VisualsConfig
        The preset's ``[visuals]`` table.
    base_dir : Path, optional
        Folder of the preset (relative shader paths start there).
    """

    def __init__(self, ctx: moderngl.Context, config: VisualsConfig,
                 base_dir: Path | None = None) -> None:
        self.ctx = ctx
        self.config = config
        self.resources = Resources(ctx)
        self.resources.audio.visual_latency_s = config.visual_latency_ms / 1000.0
        self.intensity = float(config.intensity)
        self.blackout = False
        self.freeze = False
        self.overlay = bool(config.overlay)
        self.dirs = scene_search_dirs(config, base_dir)
        self.layers: list[Layer] = []
        self.failed: list[str] = []
        self._load_playlist()
        self.current = 0
        self.transition: _Transition | None = None
        self._pending: tuple[int, str] | None = None  # (target, quantize)
        self._pending_since: float | None = None
        self._transition_scene: Scene | None = None
        self._load_transition()
        res = self.resources
        self._present = ctx.program(vertex_shader=FULLSCREEN_VS, fragment_shader=_PRESENT_FS)
        self._present_vao = ctx.vertex_array(self._present, [(res.quad, "2f", "isf_position")])
        self._present["image_a"].value = 0
        self._present["image_b"].value = 1
        self._overlay_prog = ctx.program(vertex_shader=FULLSCREEN_VS, fragment_shader=_OVERLAY_FS)
        self._overlay_vao = ctx.vertex_array(self._overlay_prog,
                                             [(res.quad, "2f", "isf_position")])
        self._overlay_tex: moderngl.Texture | None = None
        self._overlay_text = ""
        self._overlay_next_s = 0.0
        self._mix_tex: moderngl.Texture | None = None
        self._mix_fbo: moderngl.Framebuffer | None = None
        self._last_output: moderngl.Texture | None = None
        seed = config.autopilot.seed or int.from_bytes(os.urandom(4), "little")
        self._rng = random.Random(seed)
        self._played: set[int] = {0}
        self._beats = self._bars = -1
        self._count = 0
        self._goal = self._next_goal()
        self._last_change_s = 0.0
        self._last_section = 0
        self._reload_next_s = 0.0
        self._error_until_s = 0.0
        self._error_text = ""
        self._fps = 0.0
        self.frames = 0
        self._input_lost = False
        self._fallback: Layer | None = None

    # -- the playlist --------------------------------------------------------------------------
    def _load_playlist(self) -> None:
        entries = playlist_entries(self.config, self.dirs)
        t0 = time.perf_counter()
        for n, (entry, key) in enumerate(zip(entries, playlist_keys(entries, self.dirs),
                                             strict=True)):
            try:
                path = resolve_scene(entry.file, self.dirs)
                self.layers.append(Layer(self.resources, path, entry, self.config.automap))
                self.layers[-1].key = key
            except (ShaderError, ValueError, IndexError, OSError, moderngl.Error) as exc:
                self.failed.append(str(exc))
                log.error("scene %d of %d left out: %s", n + 1, len(entries), exc)
        if not self.layers:
            log.warning("no scene could be loaded; showing the built-in meter")
            self.layers.append(Layer(self.resources, Path("liveai-fallback.fs"), SceneConfig(),
                                     False, text=FALLBACK_SCENE))
        log.info("%d scenes compiled in %.0f ms (all before the show, so switches never "
                 "compile)", len(self.layers), 1000.0 * (time.perf_counter() - t0))

    def _load_transition(self) -> None:
        kind = self.config.transition.kind
        if kind in ("crossfade", "cut"):
            return
        try:
            doc = load_document(resolve_scene(kind, self.dirs))
            if not isinstance(doc, IsfDocument) or doc.kind != "transition":
                raise ShaderError(kind, "not an ISF transition (needs startImage, endImage and "
                                  "progress inputs)")
            self._transition_scene = Scene(self.resources, doc)
        except ShaderError as exc:
            log.error("transition '%s' unusable, crossfading instead: %s", kind, exc)

    @property
    def scene_names(self) -> list[str]:
        """Names of the playlist's scenes, in order."""
        return [layer.name for layer in self.layers]

    def index_of(self, name_or_index: str | int) -> int:
        """Playlist index of a scene given by index or (part of) its name.

        Raises
        ------
        KeyError
            No such scene.
        """
        if isinstance(name_or_index, int) or str(name_or_index).isdigit():
            i = int(name_or_index)
            if 0 <= i < len(self.layers):
                return i
            raise KeyError(f"no scene {i} (the playlist has {len(self.layers)})")
        names = self.scene_names
        if name_or_index in names:
            return names.index(name_or_index)
        for i, n in enumerate(names):
            if str(name_or_index).lower() in n.lower():
                return i
        raise KeyError(f"no scene called '{name_or_index}' (scenes: {', '.join(names)})")

    def request(self, target: str | int, quantize: str | None = None) -> None:
        """Go to a scene with the preset's transition, starting on the next beat / bar.

        Raises
        ------
        KeyError
            No such scene.
        """
        idx = self.index_of(target)
        if (self.transition is not None and idx == self.transition.target) or (
                self.transition is None and idx == self.current):
            self._pending = None  # already there (or on the way)
            return
        self._pending = (idx, quantize or self.config.transition.quantize)
        self._pending_since = None

    def next_scene_in_order(self, step: int = 1) -> int:
        """Request the scene ``step`` places after the current one in the playlist."""
        idx = (self.current + step) % len(self.layers)
        self.request(idx)
        return idx

    def set_transition(self, **changes: Any) -> None:
        """Change the transition settings live (None values are left as they are)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if changes:
            self.config = dataclasses.replace(
                self.config, transition=dataclasses.replace(self.config.transition, **changes))

    def set_autopilot(self, **changes: Any) -> None:
        """Change the autopilot settings live (None values are left as they are)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if changes and any(getattr(self.config.autopilot, k) != v for k, v in changes.items()):
            self.config = dataclasses.replace(
                self.config, autopilot=dataclasses.replace(self.config.autopilot, **changes))
            self._count, self._goal = 0, self._next_goal()

    def next_scene(self, quantize: str | None = None) -> int:
        """Pick the next scene by the autopilot's mode and request it; returns its index."""
        n = len(self.layers)
        mode = self.config.autopilot.mode
        if n <= 1:
            return self.current
        if mode == "sequence":
            idx = (self.current + 1) % n
        else:
            choices = [i for i in range(n) if i != self.current]
            if mode == "no-repeat":
                fresh = [i for i in choices if i not in self._played]
                if not fresh:
                    self._played = {self.current}
                    fresh = choices
                choices = fresh
            idx = self._rng.choice(choices)
        self._played.add(idx)
        self.request(idx, quantize)
        return idx

    # -- autopilot -------------------------------------------------------------------------
    def _next_goal(self) -> int:
        ap = self.config.autopilot
        spread = ap.every * ap.jitter
        return max(1, int(round(ap.every + self._rng.uniform(-spread, spread))))

    def _autopilot(self, frame: np.ndarray, now_s: float) -> None:
        ap = self.config.autopilot
        beats, bars = int(frame["beat_count"]), int(frame["bar_count"])
        new_beat = self._beats >= 0 and beats != self._beats
        new_bar = self._bars >= 0 and bars != self._bars
        self._beats, self._bars = beats, bars
        section = self.resources.audio.section
        drop = section == 4 and self._last_section != 4
        self._last_section = section
        if not ap.enabled or self.transition is not None or self._pending is not None:
            return
        if drop and ap.on_drop:
            self.next_scene("none")
            self._count, self._goal, self._last_change_s = 0, self._next_goal(), now_s
            return
        boundary = {"beat": new_beat, "bar": new_bar,
                    "phrase": new_bar and bars % ap.phrase_bars == 0}[ap.change_on]
        if boundary:
            self._count += 1
        heard = float(frame["tempo_confidence"]) > 0.2
        if self._count >= self._goal or (not heard and now_s - self._last_change_s
                                         > ap.fallback_s):
            self.next_scene("none")
            self._count, self._goal, self._last_change_s = 0, self._next_goal(), now_s

    # -- hot reload ------------------------------------------------------------------------
    def _hot_reload(self, now_s: float) -> None:
        if not self.config.hot_reload or now_s < self._reload_next_s:
            return
        self._reload_next_s = now_s + RELOAD_POLL_S
        for layer in self.layers:
            if layer.path.name != "liveai-fallback.fs" and layer.changed_on_disk():
                if not layer.reload():
                    self._error_text = layer.error
                    self._error_until_s = now_s + ERROR_BANNER_S
                elif self._error_text.startswith(str(layer.path)):
                    self._error_text = ""

    # -- drawing ---------------------------------------------------------------------------
    def _ensure_mix(self, size: tuple[int, int]) -> None:
        if self._mix_tex is not None and self._mix_tex.size == size:
            return
        if self._mix_tex is not None:
            self._mix_fbo.release()
            self._mix_tex.release()
        self._mix_tex = self.ctx.texture(size, 4)
        self._mix_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self._mix_fbo = self.ctx.framebuffer([self._mix_tex])

    def _beat_s(self) -> float:
        bpm = float(self.resources.audio.values.get("la_bpm", 0.0))
        return 60.0 / bpm if bpm > 1.0 else 0.5

    def _start_pending(self, frame: np.ndarray, now_s: float) -> None:
        if self._pending is None or self.transition is not None:
            return  # a change asked for during a fade starts when the fade is done
        target, quantize = self._pending
        if self._pending_since is None:
            self._pending_since = now_s
        p = self.resources.audio.values
        has_tempo = float(p.get("la_bpm", 0.0)) > 1.0
        # Wait for the beat or bar, but never longer than a bar and a half: in silence or a
        # drumless breakdown the tracker keeps a tempo yet fires no beats.
        patience_s = 1.5 * (4.0 if quantize == "bar" else 1.0) * self._beat_s()
        patient = now_s - self._pending_since < patience_s
        if quantize == "beat" and has_tempo and patient and p.get("la_beat", 0.0) < 0.999:
            return
        if quantize == "bar" and has_tempo and patient and p.get("la_bar", 0.0) < 0.999:
            return
        self._pending = None
        self._pending_since = None
        if target == self.current:
            return
        tc = self.config.transition
        dur = tc.duration * (self._beat_s() if tc.unit == "beats" else 1.0)
        log.info("scene %d/%d: %s (%s)", target + 1, len(self.layers), self.layers[target].name,
                 "cut" if tc.kind == "cut" or dur <= 0 else f"{tc.kind}, {dur:.1f} s")
        if tc.kind == "cut" or dur <= 0:
            self.current = target
            self.transition = None
        else:
            self.transition = _Transition(target, now_s, dur)
            self.layers[target].scene.reset()
        self._last_change_s = now_s

    def render(self, frame: np.ndarray, clock: RenderClock, target: moderngl.Framebuffer,
               size: tuple[int, int]) -> None:
        """Draw one frame of the show into ``target`` (a window's screen or an offscreen FBO).

        Parameters
        ----------
        frame : np.ndarray
            The latest FeatureFrame.
        clock : RenderClock
            This frame's time.
        target : moderngl.Framebuffer
            Where the picture goes.
        size : tuple of int
            Its size in pixels.
        """
        now_s = clock.time_s
        self.frames += 1
        if clock.delta_s > 0:
            inst = 1.0 / clock.delta_s
            self._fps = inst if self._fps == 0 else 0.9 * self._fps + 0.1 * inst
        self._hot_reload(now_s)
        self.resources.audio.intensity = self.intensity
        self._input_lost = int(frame["input_state"]) == INPUT_LOST
        if not self.freeze or self._last_output is None:
            self.resources.update(frame, clock)
            self._autopilot(frame, now_s)
            self._start_pending(frame, now_s)
            a = self._render_layer(self.current, size, clock)
            b, mix_b = a, 0.0
            tr = self.transition
            if tr is not None:
                b = self._render_layer(tr.target, size, clock)
                progress = min(max((now_s - tr.start_s) / tr.duration_s, 0.0), 1.0)
                mix_b = progress * progress * (3.0 - 2.0 * progress)
                if self._transition_scene is not None:
                    ts = self._transition_scene
                    ts.set_image("startImage", a)
                    ts.set_image("endImage", b)
                    ts.set_value("progress", progress)
                    a = ts.render(size, clock)
                    mix_b = 0.0
                if progress >= 1.0:
                    self.current = tr.target
                    self.transition = None
            self._ensure_mix(size)
            self._draw(self._mix_fbo, a, b, mix_b, 1.0)
            self._last_output = self._mix_tex
        gain = 0.0 if self.blackout else self.intensity
        target.use()
        self._draw(target, self._last_output, self._last_output, 0.0, gain)
        self._draw_overlay(now_s, size)

    def _render_layer(self, index: int, size: tuple[int, int], clock: RenderClock
                      ) -> moderngl.Texture:
        """Draw one layer; a layer that fails is reported and replaced by the fallback picture."""
        layer = self.layers[index]
        try:
            return layer.render(size, clock)
        except Exception as exc:  # a driver or shader fault must not end the show
            if not layer.error:
                log.error("scene %s failed while drawing (%s); showing the fallback instead",
                          layer.name, exc)
            layer.error = f"{layer.path}: {exc}"
            if self._fallback is None:
                self._fallback = Layer(self.resources, Path("liveai-fallback.fs"), SceneConfig(),
                                       False, text=FALLBACK_SCENE)
            return self._fallback.render(size, clock)

    def _draw(self, fbo: moderngl.Framebuffer, a: moderngl.Texture, b: moderngl.Texture,
              mix_b: float, gain: float) -> None:
        fbo.use()
        a.use(0)
        b.use(1)
        self._present["mix_b"].value = float(mix_b)
        self._present["gain"].value = float(gain)
        self._present_vao.render(moderngl.TRIANGLE_STRIP)

    # -- overlay ---------------------------------------------------------------------------
    def status_line(self) -> str:
        """What the overlay says: fps, scene, tempo, beat, transition, errors."""
        v = self.resources.audio.values
        layer = self.layers[self.current]
        beat_in_bar = int(v.get("la_beat_in_bar", -1))
        dots = "".join("X" if i == beat_in_bar else "." for i in range(4)) \
            if beat_in_bar >= 0 else "····"
        parts = [f"{self._fps:5.1f} fps", f"scene {self.current + 1}/{len(self.layers)} "
                 f"{layer.name}", f"{float(v.get('la_bpm', 0.0)):6.1f} BPM {dots}",
                 f"conf {float(v.get('la_confidence', 0.0)):.2f}"]
        if self.transition is not None:
            parts.append(f"-> {self.layers[self.transition.target].name}")
        if self._input_lost:
            parts.append("INPUT LOST (silence)")
        if self.blackout:
            parts.append("BLACKOUT")
        if self.freeze:
            parts.append("FROZEN")
        return "  |  ".join(parts)

    def _draw_overlay(self, now_s: float, size: tuple[int, int]) -> None:
        show_error = bool(self._error_text) and (self.overlay or now_s < self._error_until_s)
        if not self.overlay and not show_error:
            return
        if now_s >= self._overlay_next_s:
            self._overlay_next_s = now_s + 0.2
            lines = [self.status_line()] if self.overlay else []
            if show_error:
                lines.append("ERROR " + self._error_text)
            text = "\n".join(lines)
            if text != self._overlay_text:
                self._overlay_text = text
                self._make_overlay(text, error=show_error)
        if self._overlay_tex is None:
            return
        w, h = self._overlay_tex.size
        # Never more than a third of the picture's height, nor wider than the picture.
        k = min(1.0, (size[1] / 3.0) / h, 0.98 * size[0] / w)
        rect = (0.01, 1.0 - 0.01 - k * h / size[1], k * w / size[0], k * h / size[1])
        self._overlay_prog["rect"].value = rect
        self._overlay_tex.use(0)
        self.ctx.enable(moderngl.BLEND)
        self.ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        self._overlay_vao.render(moderngl.TRIANGLE_STRIP)
        self.ctx.disable(moderngl.BLEND)

    def _make_overlay(self, text: str, error: bool) -> None:
        from PIL import Image, ImageDraw, ImageFont

        font = ImageFont.load_default(size=16)
        lines = text.splitlines() or [""]
        width = max(int(font.getlength(line)) for line in lines) + 16
        img = Image.new("RGBA", (max(width, 16), 22 * len(lines) + 8), (0, 0, 0, 170))
        draw = ImageDraw.Draw(img)
        for i, line in enumerate(lines):
            color = (255, 90, 80, 255) if line.startswith("ERROR") else (230, 230, 230, 255)
            draw.text((8, 4 + 22 * i), line, font=font, fill=color)
        data = np.ascontiguousarray(np.asarray(img)[::-1])
        if self._overlay_tex is not None:
            self._overlay_tex.release()
        self._overlay_tex = self.ctx.texture((data.shape[1], data.shape[0]), 4, data.tobytes())

    def release(self) -> None:
        """Free every GL object of the show."""
        for layer in self.layers:
            layer.release()
        if self._fallback is not None:
            self._fallback.release()
        for obj in (self._transition_scene, self._mix_fbo, self._mix_tex, self._overlay_tex,
                    self._present_vao, self._present, self._overlay_vao, self._overlay_prog):
            if obj is not None:
                obj.release()
        self.resources.release()


__all__ = ["FALLBACK_SCENE", "Layer", "MappingConfig", "VisualShow", "all_scene_files",
           "resolve_scene", "scene_search_dirs"]
