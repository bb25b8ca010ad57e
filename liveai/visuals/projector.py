"""The projector process: maps the engine's shared record and draws it, in a window or offscreen.

Started and supervised by the engine (``python -m liveai.visuals.projector --record PATH``).
It exits when the engine asks it to, when the engine process is gone, or when the user closes
the window (which asks the engine to end the show).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path

import moderngl

from liveai import log as liveai_log
from liveai.config import VisualsConfig, load_show
from liveai.errors import LiveAIError
from liveai.frame import SharedRecord, new_frame
from liveai.params import SharedParams
from liveai.visuals.controls import SceneInputFollower
from liveai.visuals.scene import RenderClock
from liveai.visuals.show import VisualShow

log = logging.getLogger("liveai.projector")

#: Niceness added to the projector process (the engine keeps the default priority).
PROJECTOR_NICE = 5


def _state_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "liveai" / "outputs.json"


def remembered_output(slot: int) -> dict:
    """The monitor and fullscreen choice of an output at the last show ({} if none)."""
    try:
        data = json.loads(_state_path().read_text(encoding="utf-8"))
        entry = data.get(str(slot), {})
        return {"monitor": str(entry.get("monitor", "")),
                "fullscreen": bool(entry.get("fullscreen", False))}
    except (OSError, ValueError, AttributeError):
        return {}


def remember_output(slot: int, monitor: str, fullscreen: bool) -> None:
    """Store this output's monitor and fullscreen choice for the next show (best effort)."""
    path = _state_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        if not isinstance(data, dict):
            data = {}
        data[str(slot)] = {"monitor": monitor, "fullscreen": fullscreen}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except (OSError, ValueError) as exc:
        log.warning("cannot remember the output's monitor (%s): %s", path, exc)


class _Window:
    """A glfw window with a GL 3.3 core context on the chosen monitor."""

    def __init__(self, width: int, height: int, monitor: str, fullscreen: bool,
                 vsync: bool) -> None:
        import glfw  # only the windowed path needs it

        self.glfw = glfw
        if not glfw.init():
            desc = glfw.get_error()
            raise RuntimeError(f"cannot initialise the window system (glfw): {desc}")
        mon = self._choose_monitor(monitor) if (monitor or fullscreen) else None
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
        if fullscreen and mon is not None:
            mode = glfw.get_video_mode(mon)
            width, height = mode.size.width, mode.size.height
            self.win = glfw.create_window(width, height, "liveai", mon, None)
        else:
            self.win = glfw.create_window(width, height, "liveai", None, None)
            if mon is not None:
                x, y = glfw.get_monitor_pos(mon)
                glfw.set_window_pos(self.win, x + 40, y + 40)
        if not self.win:
            glfw.terminate()
            raise RuntimeError("cannot open a window with an OpenGL 3.3 core context")
        glfw.make_context_current(self.win)
        glfw.swap_interval(1 if vsync else 0)
        self.ctx = moderngl.create_context(require=330)
        self.keys: list[int] = []
        glfw.set_key_callback(self.win, self._on_key)
        self.windowed_size = (width, height)
        self.monitor_name = (glfw.get_monitor_name(mon).decode(errors="replace")
                             if mon is not None else "")
        self.fullscreen = bool(fullscreen and mon is not None)

    def toggle_fullscreen(self, next_monitor: bool = False) -> None:
        """Fullscreen on / off (or on the next monitor); the choice is remembered."""
        glfw = self.glfw
        monitors = glfw.get_monitors() or []
        if not monitors:
            return
        names = [glfw.get_monitor_name(m).decode(errors="replace") for m in monitors]
        idx = names.index(self.monitor_name) if self.monitor_name in names else 0
        if next_monitor:
            idx = (idx + 1) % len(monitors)
            self.fullscreen = True
        else:
            self.fullscreen = not self.fullscreen
        mon = monitors[idx]
        self.monitor_name = names[idx]
        if self.fullscreen:
            mode = glfw.get_video_mode(mon)
            glfw.set_window_monitor(self.win, mon, 0, 0, mode.size.width, mode.size.height,
                                    mode.refresh_rate)
        else:
            x, y = glfw.get_monitor_pos(mon)
            glfw.set_window_monitor(self.win, None, x + 40, y + 40, *self.windowed_size, 0)
        log.info("output on %s, %s", self.monitor_name,
                 "fullscreen" if self.fullscreen else "windowed")

    def _on_key(self, _win, key: int, _scancode: int, action: int, _mods: int) -> None:
        if action == self.glfw.PRESS:
            self.keys.append(key)

    def take_keys(self) -> list[str]:
        """Keys pressed since the last call, as names ("o", "right", "space", ...)."""
        g = self.glfw
        names = {g.KEY_RIGHT: "right", g.KEY_LEFT: "left", g.KEY_SPACE: "space",
                 g.KEY_ESCAPE: "escape", g.KEY_TAB: "tab"}
        out = []
        for k in self.keys:
            if k in names:
                out.append(names[k])
            elif 32 < k < 127:
                out.append(chr(k).lower())
        self.keys.clear()
        return out

    @property
    def target(self) -> moderngl.Framebuffer:
        """The window's framebuffer."""
        return self.ctx.screen

    def _choose_monitor(self, spec: str):
        glfw = self.glfw
        monitors = glfw.get_monitors() or []
        names = [glfw.get_monitor_name(m).decode(errors="replace") for m in monitors]
        if not spec:
            return glfw.get_primary_monitor()
        if spec.isdigit() and int(spec) < len(monitors):
            return monitors[int(spec)]
        for m, name in zip(monitors, names, strict=True):
            if spec.lower() in name.lower():
                return m
        log.warning("no monitor matches '%s' (monitors: %s); using the primary one", spec,
                    ", ".join(names) or "none")
        return glfw.get_primary_monitor()

    @property
    def size(self) -> tuple[int, int]:
        return self.glfw.get_framebuffer_size(self.win)

    def should_close(self) -> bool:
        self.glfw.poll_events()
        return bool(self.glfw.window_should_close(self.win))

    def begin(self) -> None:
        self.ctx.screen.use()
        self.ctx.viewport = (0, 0, *self.size)

    def present(self) -> None:
        self.glfw.swap_buffers(self.win)

    def close(self) -> None:
        self.glfw.destroy_window(self.win)
        self.glfw.terminate()


class _Offscreen:
    """An EGL context rendering into a framebuffer (no display needed)."""

    def __init__(self, width: int, height: int) -> None:
        self.ctx = moderngl.create_standalone_context(backend="egl", require=330)
        self.fbo = self.ctx.simple_framebuffer((width, height))
        self.size = (width, height)

    def should_close(self) -> bool:
        return False

    def take_keys(self) -> list[str]:
        return []

    @property
    def target(self) -> moderngl.Framebuffer:
        return self.fbo

    def begin(self) -> None:
        self.fbo.use()

    def present(self) -> None:
        self.ctx.finish()

    def close(self) -> None:
        self.fbo.release()
        self.ctx.release()


#: Keys in the projector window: what they do (also in the README).
KEYS = {
    "right / n": "next scene (the preset's transition)",
    "left / p": "previous scene",
    "o / tab": "status overlay on/off",
    "b": "blackout on/off",
    "f": "freeze the picture on/off",
    "r": "reload every scene file now",
    "w": "fullscreen on/off (remembered for the next show)",
    "m": "fullscreen on the next monitor (remembered)",
}


def _handle_keys(show: VisualShow, keys: list[str], surface: object = None,
                 slot: int = 0) -> None:
    for key in keys:
        if key in ("w", "m") and hasattr(surface, "toggle_fullscreen"):
            surface.toggle_fullscreen(next_monitor=key == "m")
            remember_output(slot, surface.monitor_name, surface.fullscreen)
        if key in ("right", "n"):
            show.request((show.current + 1) % len(show.layers), "none")
        elif key in ("left", "p"):
            show.request((show.current - 1) % len(show.layers), "none")
        elif key in ("o", "tab"):
            show.overlay = not show.overlay
        elif key == "b":
            show.blackout = not show.blackout
        elif key == "f":
            show.freeze = not show.freeze
        elif key == "r":
            for layer in show.layers:
                layer.mtime_ns = -1


class ParamFollower:
    """Applies the engine's parameters (read lock-free from shared memory) to the show.

    Parameters
    ----------
    params : SharedParams
        Attached to the engine's snapshot.
    show : VisualShow
        What the values steer.
    """

    def __init__(self, params: SharedParams, show: VisualShow) -> None:
        self.params = params
        self.show = show
        self._version = -1
        self._last: dict[str, object] = {}
        self._name_retry_until = 0.0
        self._name_count = 0.0
        self.scene_inputs = SceneInputFollower(params, show.layers)

    def _changed(self, address: str) -> tuple[bool, object]:
        value = self.params.value(address)
        old = self._last.get(address)
        self._last[address] = value
        return value is not None and old is not None and value != old, value

    def poll(self, now_s: float) -> None:
        """Read the snapshot if it moved and act on what changed (call once per frame)."""
        version = self.params.snapshot.version
        pending_name = now_s < self._name_retry_until
        if version == self._version and not pending_name:
            if self.scene_inputs.stale():
                self.scene_inputs.poll()
            return
        first = self._version < 0
        self._version = version
        show = self.show
        p = self.params
        get = p.value
        # Apply only what moved (or everything on the first look): keys in the window (b, f)
        # must not be undone by some other parameter changing.
        for address, apply in (
            ("/liveai/master/intensity", lambda v: setattr(show, "intensity", float(v))),
            ("/liveai/master/blackout", lambda v: setattr(show, "blackout", bool(v))),
            ("/liveai/master/freeze", lambda v: setattr(show, "freeze", bool(v))),
            ("/liveai/visual/latency_ms",
             lambda v: setattr(show.resources.audio, "visual_latency_s", float(v) / 1000.0)),
        ):
            moved, v = self._changed(address)
            if v is not None and (moved or first):
                apply(v)
        # The crowd, as the mixer hears it at the room mic: -40 dB under the music reads 0,
        # level with the music reads 1. The estimates sit at -120 dB until a mixer runs.
        crowd_db = get("/liveai/mixer/crowd_level_db")
        music_db = get("/liveai/mixer/music_level_db")
        if crowd_db is not None and music_db is not None and music_db > -100.0:
            show.resources.audio.crowd = min(max((crowd_db - music_db + 40.0) / 40.0, 0.0), 1.0)
        if any(self._changed(a)[0] for a in TRANSITION_ADDRESSES) or first:
            show.set_transition(duration=get("/liveai/transition/duration"),
                                unit=p.choice("/liveai/transition/unit"),
                                quantize=p.choice("/liveai/transition/quantize"))
        if any(self._changed(a)[0] for a in AUTOPILOT_ADDRESSES) or first:
            enabled = get("/liveai/autopilot/enabled")
            every = get("/liveai/autopilot/every")
            show.set_autopilot(enabled=None if enabled is None else bool(enabled),
                               mode=p.choice("/liveai/autopilot/mode"),
                               change_on=p.choice("/liveai/autopilot/change_on"),
                               every=None if every is None else int(every))
        # Scene changes: only what moved since the last look. The engine also writes the scene
        # a projector shows into /scene/index (so tablets follow): that echo is not a request.
        moved, index = self._changed("/liveai/scene/index")
        shown = show.transition.target if show.transition is not None else show.current
        if (moved or first) and index is not None and int(index) != shown:
            # A (re)started projector goes to the scene the store says, not the preset's first.
            self._request(int(index))
        moved, _ = self._changed("/liveai/scene/next")
        if moved and not first:
            show.next_scene_in_order(+1)
        moved, _ = self._changed("/liveai/scene/previous")
        if moved and not first:
            show.next_scene_in_order(-1)
        self.scene_inputs.poll()
        moved, count = self._changed("/liveai/scene/name")
        if moved and not first:
            self._name_retry_until = now_s + 0.5  # the text follows its counter in a moment
            self._name_count = count
        if now_s < self._name_retry_until:
            # The file may still hold the previous change: wait for the one the count names
            # (the same name sent twice is a request too: go back to it).
            found = p.string_change("/liveai/scene/name")
            if found is not None and found[1] >= self._name_count:
                self._name_retry_until = 0.0
                if found[0]:
                    self._request(found[0])

    def _request(self, target: str | int) -> None:
        try:
            self.show.request(target)
        except KeyError as exc:
            log.warning("scene change ignored: %s", exc.args[0])


TRANSITION_ADDRESSES = ("/liveai/transition/duration", "/liveai/transition/unit",
                        "/liveai/transition/quantize")
AUTOPILOT_ADDRESSES = ("/liveai/autopilot/enabled", "/liveai/autopilot/mode",
                       "/liveai/autopilot/change_on", "/liveai/autopilot/every")


def run(record_path: str, slot: int, width: int, height: int, fps: float, headless: bool,
        monitor: str = "", fullscreen: bool = False, vsync: bool = True,
        preset: str | None = None, params_path: str | None = None, seed: int = 0) -> int:
    """Render until told to stop. Returns the process exit code."""
    # The audio engine comes first: on a loaded machine the projector yields the CPU to it.
    try:
        os.nice(PROJECTOR_NICE)
    except OSError:
        pass
    record = SharedRecord.attach(record_path)
    status = record.status[slot]
    status["pid"] = os.getpid()
    parent = os.getppid()
    if not headless and not monitor and not fullscreen:
        # The preset leaves the choice open: use what the VJ chose last time on this output.
        last = remembered_output(slot)
        monitor, fullscreen = last.get("monitor", ""), last.get("fullscreen", False)
        if last:
            log.info("projector %d: %s as last time (%s)", slot,
                     "fullscreen" if fullscreen else "windowed", monitor or "primary monitor")
    try:
        surface = _Offscreen(width, height) if headless else _Window(width, height, monitor,
                                                                     fullscreen, vsync)
    except Exception as exc:  # moderngl/glcontext raise plain Exceptions
        log.error("projector cannot start its OpenGL output: %s", exc)
        return 3
    info = surface.ctx.info
    log.info("projector %d: %s, %s, %dx%d", slot, info.get("GL_RENDERER"),
             "offscreen (EGL)" if headless else "window", *surface.size)
    visuals = VisualsConfig()
    base_dir = None
    if preset:
        try:
            config, path = load_show(preset)
            visuals, base_dir = config.visuals, path.parent
        except LiveAIError as exc:
            log.error("projector: %s; using the default scenes", exc)
    if seed and not visuals.autopilot.seed:
        visuals = dataclasses.replace(
            visuals, autopilot=dataclasses.replace(visuals.autopilot, seed=seed))
    show = VisualShow(surface.ctx, visuals, base_dir)
    follower = None
    if params_path:
        try:
            follower = ParamFollower(SharedParams.attach(params_path), show)
        except (OSError, ValueError) as exc:
            log.error("projector: cannot read the engine's parameters (%s); OSC control of "
                      "the visuals is off", exc)
    frame = new_frame()
    t_start = time.monotonic()
    t_prev = None
    period_s = 1.0 / fps
    frames = 0
    fps_avg = 0.0
    t_last = time.monotonic()
    t_next = t_last
    try:
        while not record.stop_requested:
            if os.getppid() != parent:
                log.warning("projector %d: the engine is gone; exiting", slot)
                break
            if surface.should_close():
                status["quit_requested"] = 1
                break
            t_frame = time.monotonic()
            record.read(frame)  # on a failed read `frame` keeps the last good one
            _handle_keys(show, surface.take_keys(), surface, slot)
            if follower is not None:
                follower.poll(t_frame - t_start)
            clock = RenderClock(time_s=t_frame - t_start,
                                delta_s=0.0 if t_prev is None else t_frame - t_prev,
                                frame_index=frames, date=RenderClock.date_now())
            t_prev = t_frame
            if min(surface.size) < 1:  # a minimised window has no pixels: draw nothing
                surface.present()
                time.sleep(period_s)
                continue
            surface.begin()
            show.render(frame, clock, surface.target, surface.size)
            surface.present()
            frames += 1
            now = time.monotonic()
            dt = now - t_last
            t_last = now
            if dt > 0:
                fps_avg = 1.0 / dt if fps_avg == 0 else 0.95 * fps_avg + 0.05 / dt
            status["frames_rendered"] = frames
            status["heartbeat_ns"] = time.monotonic_ns()
            status["fps"] = fps_avg
            shown = show.transition.target if show.transition is not None else show.current
            if shown != status["scene_index"] or frames == 1:
                status["scene_index"] = shown
                status["scene_changes"] += 1
            status["width"], status["height"] = surface.size
            # Pace offscreen rendering, and windows whose swap does not wait for a refresh
            # (no vsync, or a virtual display). A swap that waited is the display's pace.
            if vsync and not headless and now - t_frame >= 0.5 * period_s:
                t_next = now
                continue
            t_next += period_s
            delay = t_next - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.5:
                t_next = time.monotonic()
    finally:
        show.release()
        surface.close()
        del status
        record.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the projector process."""
    p = argparse.ArgumentParser(prog="liveai-projector",
                                description="liveai projector process (started by the engine)")
    p.add_argument("--record", required=True, help="path of the engine's shared record")
    p.add_argument("--slot", type=int, default=0)
    p.add_argument("--size", default="1280x720", help="WxH in pixels")
    p.add_argument("--fps", type=float, default=60.0)
    p.add_argument("--headless", action="store_true", help="render offscreen through EGL")
    p.add_argument("--monitor", default="")
    p.add_argument("--fullscreen", action="store_true")
    p.add_argument("--no-vsync", dest="vsync", action="store_false")
    p.add_argument("--preset", default=None, help="preset file with the [visuals] table")
    p.add_argument("--params", default=None, help="the engine's shared parameter snapshot")
    p.add_argument("--seed", type=int, default=0,
                   help="autopilot seed (outputs of one show share it)")
    p.add_argument("-v", "--verbose", action="count", default=0)
    args = p.parse_args(argv)
    liveai_log.configure(args.verbose)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        log.error("--size must look like 1280x720, not %r", args.size)
        return 2
    return run(args.record, args.slot, width, height, args.fps, args.headless, args.monitor,
               args.fullscreen, args.vsync, args.preset, args.params, args.seed)


if __name__ == "__main__":
    sys.exit(main())
