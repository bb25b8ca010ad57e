"""The one place that wires liveai together: source → ring → analysis → shared record → projectors.

The engine process owns the audio and never imports GL. Projectors are child processes
(``python -m liveai.visuals.projector``) that map the shared record; the engine supervises them
and restarts one that dies, while the audio keeps running untouched.
"""

from __future__ import annotations

import dataclasses
import gc
import ipaddress
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from liveai.analysis.pipeline import FrameAnalyzer, warm_up
from liveai.analysis.rhythm import BeatTracker
from liveai.audio.devices import find_device
from liveai.audio.ring import SpscRing
from liveai.audio.sources import DemoSource, DeviceSource, FileSource, Source
from liveai.config import ProjectorConfig, ShowConfig
from liveai.control.clock import EngineBeats, ExternalClock
from liveai.control.link import LinkSession
from liveai.control.midi import MidiControl
from liveai.control.osc_in import OscServer, in_networks
from liveai.control.osc_out import FeatureSender
from liveai.control.oscquery import OscQueryServer
from liveai.errors import DeviceError, LiveAIError
from liveai.frame import INPUT_ENDED, INPUT_LOST, INPUT_OK, SOURCE_KINDS, SharedRecord, new_frame
from liveai.log import RateLimitedLogger
from liveai.params import ParameterStore, SharedParams, engine_store
from liveai.process import terminate
from liveai.visuals.controls import register_scene_parameters

log = logging.getLogger(__name__)

#: Longest time (s) a Python thread keeps the GIL while the audio callback waits for it.
SWITCH_INTERVAL_S = 0.0005


# A private copy of the original stderr, taken before anything can redirect fd 2.
_STDERR_FD = os.dup(2)

#: Seconds without a new frame after which a projector counts as hung and is restarted.
PROJECTOR_HANG_S = 5.0


def has_display() -> bool:
    """True when a window can be opened (X11 or Wayland)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def build_source(config: ShowConfig, *, demo: bool = False, file: str | None = None,
                 realtime: bool = True) -> Source:
    """Choose the audio source the preset (and the command line) asks for.

    With ``source = "auto"`` and no input device on the machine, the built-in demo groove
    plays instead and the log says so. An input named explicitly that is not there is an error.

    Raises
    ------
    DeviceError, SourceError
        With a message that names the device or file.
    """
    a = config.audio
    kind = "demo" if demo else ("file" if file else a.source)

    def demo_source() -> DemoSource:
        return DemoSource(a.sample_rate_hz, a.block_size, channels=2, realtime=realtime)

    if kind == "demo":
        return demo_source()
    if kind == "file":
        return FileSource(file or a.file, block_size=a.block_size, realtime=realtime,
                          loop=a.file_loop)
    stream_kwargs = dict(
        input=a.input, output=a.output, duplex=a.duplex, sample_rate_hz=a.sample_rate_hz,
        block_size=a.block_size, input_channels=tuple(a.input_channels),
        reconnect_max_s=a.reconnect_max_s,
    )
    try:
        find_device(a.input, "input")  # fail (or fall back) now, not after the warm-up
    except DeviceError:
        if kind == "device" or a.input:
            raise
        log.warning("No audio input device found: playing the built-in demo groove "
                    "instead. Run 'liveai devices' to pick an input.")
        return demo_source()
    return DeviceSource(**stream_kwargs)


class TempoHands:
    """The performer's tap, nudge and resync, read from the parameter snapshot each hop.

    Triggers are counters in the snapshot (lock-free reads); the analysis thread applies what
    moved since the last hop to the beat tracker, so nothing waits on the OSC thread.
    """

    def __init__(self, store: ParameterStore, tracker: BeatTracker) -> None:
        self.snapshot = store.snapshot
        self.tracker = tracker
        self.slots = {name: store.slot(f"/liveai/tempo/{name}")
                      for name in ("tap", "resync", "nudge/forward", "nudge/back", "nudge_ms")}
        self.last = {name: self.snapshot.value(slot) for name, slot in self.slots.items()}

    def poll(self) -> None:
        """Apply every trigger that fired since the last call."""
        for name in ("tap", "resync", "nudge/forward", "nudge/back"):
            value = self.snapshot.value(self.slots[name])
            if value == self.last[name]:
                continue
            fired = int(value - self.last[name])
            self.last[name] = value
            nudge_ms = self.snapshot.value(self.slots["nudge_ms"])
            for _ in range(max(0, min(fired, 16))):
                if name == "tap":
                    self.tracker.tap()
                elif name == "resync":
                    self.tracker.resync()
                else:
                    self.tracker.nudge(nudge_ms if name == "nudge/forward" else -nudge_ms)


class ClockFollower:
    """External clocks (Ableton Link, MIDI clock in) handed to the beat tracker each hop.

    The first clock with a fresh reading wins (they are listed in priority order); when none
    has one, the tracker listens to the music again. Readings are lock-free (see
    :class:`~liveai.control.clock.ExternalClock`), so the analysis thread never waits.
    """

    def __init__(self, clocks: list[ExternalClock], tracker: BeatTracker) -> None:
        self.clocks = clocks
        self.tracker = tracker
        self.following = ""
        self.supported = hasattr(tracker, "follow_external")

    def poll(self, lag_s: float = 0.0) -> None:
        """Give the tracker the clock's tempo and position at the end of the hop just read.

        Parameters
        ----------
        lag_s : float
            How long ago that hop ended (the audio still waiting in the ring).
        """
        at_s = time.monotonic() - lag_s
        for clock in self.clocks:
            got = clock.read(at_s)
            if got is None:
                continue
            if self.following != clock.name:
                log.info("following the %s: %.1f BPM%s", clock.name, got[0],
                         "" if self.supported else " (this beat tracker cannot follow a clock: "
                         "shown only)")
                self.following = clock.name
            if self.supported:
                self.tracker.follow_external(got[0], got[1])
            return
        if self.following:
            log.info("the %s is gone: beats come from the music again", self.following)
            self.following = ""
            if self.supported:
                self.tracker.release_external()


def seed_from_preset(store: ParameterStore, config: ShowConfig) -> None:
    """Start the show's parameters at the preset's values (source ``preset``)."""
    v = config.visuals
    # The OSC peers as the preset names them (desk-template targets stay in the preset).
    natives = [t for t in config.osc_out.targets if isinstance(t, str)]
    natives += [t.address for t in config.osc_out.targets
                if not isinstance(t, str) and t.template == "liveai"]
    for address, value in (
        ("/liveai/osc/feedback", ", ".join(config.control.feedback)),
        ("/liveai/osc_out/targets", ", ".join(natives)),
        ("/liveai/master/intensity", v.intensity),
        ("/liveai/visual/latency_ms", v.visual_latency_ms),
        ("/liveai/transition/duration", v.transition.duration),
        ("/liveai/transition/unit", v.transition.unit),
        ("/liveai/transition/quantize", v.transition.quantize),
        ("/liveai/autopilot/enabled", v.autopilot.enabled),
        ("/liveai/autopilot/mode", v.autopilot.mode),
        ("/liveai/autopilot/change_on", v.autopilot.change_on),
        ("/liveai/autopilot/every", v.autopilot.every),
    ):
        result = store.set(address, value, source="preset")
        if not result.ok:
            log.warning("preset value for %s not taken: %s", address, result.message)


class ProjectorSupervisor:
    """Starts one projector child process and restarts it whenever it dies.

    Parameters
    ----------
    record : SharedRecord
        The engine's record; the child maps ``record.path``.
    slot : int
        The status slot this projector writes.
    config : ProjectorConfig
    headless : bool
        Render offscreen through EGL instead of opening a window.
    """

    def __init__(self, record: SharedRecord, slot: int, config: ProjectorConfig,
                 headless: bool, preset: Path | None = None,
                 params: Path | None = None,
                 on_scene: Callable[[int], None] | None = None, seed: int = 0) -> None:
        self.record = record
        self.seed = int(seed)
        self.on_scene = on_scene
        self._scene_changes = 0
        self.preset = preset
        self.params = params
        self.slot = int(slot)
        self.config = config
        self.headless = bool(headless)
        self.restarts = 0
        self._proc: subprocess.Popen | None = None
        self._frames_before = 0  # frames rendered by earlier (dead) children
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rl = RateLimitedLogger(log, interval_s=5.0)

    def command(self) -> list[str]:
        """The child's command line."""
        c = self.config
        cmd = [sys.executable, "-m", "liveai.visuals.projector", "--record", str(self.record.path),
               "--slot", str(self.slot), "--size", f"{c.width}x{c.height}", "--fps", str(c.fps)]
        if self.preset is not None:
            cmd += ["--preset", str(self.preset)]
        if self.params is not None:
            cmd += ["--params", str(self.params)]
        if self.seed:
            cmd += ["--seed", str(self.seed)]
        if self.headless:
            cmd.append("--headless")
        else:
            if c.monitor:
                cmd += ["--monitor", c.monitor]
            if c.fullscreen:
                cmd.append("--fullscreen")
            if not c.vsync:
                cmd.append("--no-vsync")
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            cmd.append("-v")
        return cmd

    def _spawn(self) -> None:
        self.record.status[self.slot] = 0
        self._scene_changes = 0  # the new child counts from zero
        env = dict(os.environ)
        # Mesa's software renderer takes every core by default; leave one to the audio.
        env.setdefault("LP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) - 1)))
        # Its own session: Ctrl-C in the terminal goes to the engine, which stops the child
        # cleanly. stderr is the engine's real one (PortAudio re-scans briefly point fd 2 at
        # /dev/null, and a child spawned then would be mute for life).
        self._proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, env=env,
                                      stderr=_STDERR_FD, start_new_session=True)
        log.info("projector %d started (pid %d, %s)", self.slot, self._proc.pid,
                 "offscreen" if self.headless else "window")

    def start(self) -> None:
        """Start the child and the watcher thread."""
        self._spawn()
        self._thread = threading.Thread(target=self._watch, name=f"liveai-projector-{self.slot}",
                                        daemon=True)
        self._thread.start()

    def _hung(self) -> bool:
        """True when the child rendered before but has not for PROJECTOR_HANG_S."""
        st = self.record.status[self.slot]
        if st["frames_rendered"] == 0:
            return False
        return time.monotonic_ns() - int(st["heartbeat_ns"]) > PROJECTOR_HANG_S * 1e9

    def _watch(self) -> None:
        backoff_s = 0.5
        started = time.monotonic()
        while not self._stop.wait(0.1):
            proc = self._proc
            status = self.record.status[self.slot]
            if self.on_scene is not None and int(status["scene_changes"]) != self._scene_changes:
                self._scene_changes = int(status["scene_changes"])
                self.on_scene(int(status["scene_index"]))
            if proc is None or proc.poll() is None:
                if proc is not None and self._hung():
                    log.warning("projector %d stopped drawing for %.0f s; killing it",
                                self.slot, PROJECTOR_HANG_S)
                    proc.kill()
                    proc.wait()
                elif time.monotonic() - started > 30.0:
                    backoff_s = 0.5  # it ran well for a while: restart quickly next time
                    continue
                else:
                    continue
            if self._stop.is_set() or self.record.stop_requested:
                return  # the show is ending: the child was asked to go
            self._frames_before += int(self.record.status[self.slot]["frames_rendered"])
            if self.record.status[self.slot]["quit_requested"]:
                log.info("projector %d window closed by the user", self.slot)
                return
            self._rl.warning(f"died{self.slot}", "projector %d stopped unexpectedly (exit code "
                             "%s); restarting it in %.1f s — the audio is not affected",
                             self.slot, proc.returncode, backoff_s)
            if self._stop.wait(backoff_s):
                return
            backoff_s = min(backoff_s * 2.0, self.config.restart_max_s)
            self.restarts += 1
            self._spawn()
            started = time.monotonic()

    @property
    def pid(self) -> int | None:
        """The current child's pid."""
        return None if self._proc is None else self._proc.pid

    @property
    def quit_requested(self) -> bool:
        """True when the user closed the projector window."""
        return bool(self.record.status[self.slot]["quit_requested"])

    @property
    def frames_rendered(self) -> int:
        """Frames rendered by this projector over all its lives."""
        return self._frames_before + int(self.record.status[self.slot]["frames_rendered"])

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """Ask the child to exit, then terminate it if it does not; return its exit code."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        proc = self._proc
        if proc is None:
            return None
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("projector %d did not exit; terminating it", self.slot)
        return terminate(proc, timeout_s=2.0)


@dataclass
class RunSummary:
    """What a run did, printed by ``liveai run`` when it ends."""

    seconds: float = 0.0
    source: str = ""
    feature_frames: int = 0
    projector_frames: int = 0
    projector_restarts: int = 0
    projector_outputs: int = 1
    xruns: int = 0
    overruns: int = 0
    silence_frames: int = 0
    nonfinite_samples: int = 0
    analysis_errors: int = 0
    warmup_s: float = 0.0
    ended_by: str = ""
    projector: bool = True
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        fps = self.projector_frames / self.seconds / max(self.projector_outputs, 1) \
            if self.seconds > 0 else 0.0
        out = [
            f"ran {self.seconds:.1f} s on the {self.source}; ended: {self.ended_by}",
            f"feature frames: {self.feature_frames}",
        ]
        if self.projector:
            outputs = (f" over {self.projector_outputs} outputs"
                       if self.projector_outputs > 1 else "")
            out.append(f"projector frames rendered: {self.projector_frames}{outputs} "
                       f"({fps:.1f} fps), restarts: {self.projector_restarts}")
        out += [
            f"xruns: {self.xruns}, ring overruns: {self.overruns}, "
            f"silence inserted: {self.silence_frames} frames, "
            f"NaN/Inf samples replaced: {self.nonfinite_samples}",
        ]
        if self.analysis_errors:
            out.append(f"analysis errors: {self.analysis_errors} frames skipped (see the log)")
        return out + self.notes


class Engine:
    """The engine process: audio source, analysis thread, shared record, projector supervisors.

    Parameters
    ----------
    config : ShowConfig
    source : Source
    headless : bool
        Projectors render offscreen.
    projector : bool
        Start a projector process at all.
    on_frame : callable, optional
        Called on the analysis thread with each published FeatureFrame (``liveai analyze``
        collects its events this way). It must be quick and must not keep the array.
    preset : Path, optional
        The preset file; projectors read their scenes, mappings and transitions from it.
    """

    def __init__(self, config: ShowConfig, source: Source, *, headless: bool = False,
                 projector: bool = True,
                 on_frame: Callable[[np.ndarray], None] | None = None,
                 preset: Path | None = None) -> None:
        self.config = config
        self.source = source
        self.headless = headless
        self.on_frame = on_frame
        #: Every controllable value; OSC (and later OSCQuery, MIDI, presets) write here. Its
        #: numeric snapshot lives in shared memory, where the projectors read it.
        self.shared_params = SharedParams.create()
        self.params: ParameterStore = engine_store(self.shared_params.capacity,
                                                   self.shared_params.buffer)
        self.shared_params.follow(self.params)
        seed_from_preset(self.params, config)
        # The live scenes' inputs, /liveai/scenes/<scene>/<input>, as the projectors will find
        # them (same preset, same keys).
        register_scene_parameters(self.params, config.visuals,
                                  Path(preset).resolve().parent if preset else None)
        self.osc_in: OscServer | None = None
        if config.control.osc_port:  # bound now: a port in use fails before anything starts
            self.osc_in = OscServer(self.params, config.control)
        self.oscquery: OscQueryServer | None = None
        if config.control.oscquery_port:
            ctl = config.control
            self.oscquery = OscQueryServer(
                self.params, ctl.oscquery_port, ctl.osc_bind,
                self.osc_in.port if self.osc_in is not None else 0, list(ctl.allow),
                advertise=ctl.oscquery_zeroconf)
        sr = source.sample_rate_hz
        capacity = max(int(config.audio.ring_seconds * sr), 4 * config.analysis.hop_length,
                       4 * config.audio.block_size)
        self.ring = SpscRing(capacity, source.channels)
        self.analyzer = FrameAnalyzer(sr, config.analysis.hop_length, config.analysis.n_fft,
                                      source.channels)
        self._hands = TempoHands(self.params, self.analyzer.beats)
        self.record = SharedRecord.create()
        # Ableton Link (joins when /liveai/link/enabled is on) and MIDI; their clocks reach
        # the beat tracker through the analysis thread, Link first.
        beats = EngineBeats(self.record, self.analyzer.beats.beats_per_bar)
        self.link = LinkSession(self.params, config.link, beats)
        self.midi: MidiControl | None = None
        if config.midi.enabled:
            self.midi = MidiControl(self.params, config.midi, beats)
        self._clocks = ClockFollower(
            [self.link.clock] + ([self.midi.clock] if self.midi is not None else []),
            self.analyzer.beats)
        self.projectors: list[ProjectorSupervisor] = []
        if projector and config.projector.enabled:
            # Every output runs the same show; one seed keeps their autopilots in step.
            seed = config.visuals.autopilot.seed or int.from_bytes(os.urandom(3), "little") + 1
            outputs = [config.projector] + [
                dataclasses.replace(config.projector, monitor=o.monitor, fullscreen=o.fullscreen,
                                    width=o.width, height=o.height, outputs=[])
                for o in config.projector.outputs]
            for slot, out in enumerate(outputs):
                self.projectors.append(ProjectorSupervisor(
                    self.record, slot, out, headless, preset, self.shared_params.path,
                    self._scene_shown if slot == 0 else None, seed))
        self.osc_out: FeatureSender | None = None
        if config.osc_out.targets:
            self.osc_out = FeatureSender(self.record, config.osc_out.targets,
                                         config.osc_out.rate_hz, crowd=self._crowd_levels)
        self._allow = [ipaddress.ip_network(a, strict=False) for a in config.control.allow]
        self.params.subscribe(self._on_param)
        self._running = False
        self.live_mixer = self._build_mixer(config, source)
        self._frame = new_frame()
        self._frame["sample_rate_hz"] = sr
        self._frame["hop_samples"] = config.analysis.hop_length
        self._frame["source_kind"] = SOURCE_KINDS.index(source.kind)
        self._stop = threading.Event()
        self._analysis: threading.Thread | None = None
        self.feature_frames = 0
        self.analysis_errors = 0
        self.source_drained = threading.Event()
        self.warmup_s = 0.0
        self._started_at = 0.0

    def _build_mixer(self, config: ShowConfig, source: Source):
        """The adaptive mixer in the duplex callback, when the preset asks for it."""
        m, a = config.mixer, config.audio
        if not m.enabled:
            return None
        if not (a.duplex and isinstance(source, DeviceSource)):
            log.warning("mixer.enabled is set, but the source is %s without a duplex stream: "
                        "the mixer stays off (it needs audio.duplex = true on a device)",
                        source.description)
            return None
        from liveai.mixer.live import LiveMixer  # scipy & co. only when the mixer runs

        n_out = max(m.output_channels or [len(a.input_channels)])
        live = LiveMixer(source.sample_rate_hz, a.block_size,
                         np.array([c - 1 for c in a.input_channels], dtype=np.intp), m, n_out,
                         ring_seconds=max(a.ring_seconds, 1.0))
        live.attach(self.params)
        source.set_processor(live.process, (m.mic_channel,) if m.mic_channel else (), n_out)
        log.info("adaptive mixer in the PA path: %d bands, ceiling %.1f dBFS, latency %d "
                 "samples, room mic %s", m.n_bands, m.ceiling_db, live.chain.latency_samples,
                 f"on input {m.mic_channel}" if m.mic_channel else "none (nothing automatic)")
        return live

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Warm up the kernels, start the source, the analysis thread and the projectors."""
        # The PortAudio callback needs the GIL; by default a waiting thread may wait 5 ms for
        # it, longer than a 128-frame block. Ask busy threads to hand it over sooner.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        log.info("preparing the DSP kernels (the first start after an install or update "
                 "compiles them: up to a minute; later starts load them in a second)")
        self.warmup_s = warm_up()
        if self.live_mixer is not None:
            t0 = time.perf_counter()
            self.live_mixer.warm_up()
            mixer_s = time.perf_counter() - t0
            self.warmup_s += mixer_s
            log.info("mixer chain ready in %.2f s", mixer_s)
        log.info("DSP kernels ready in %.2f s", self.warmup_s)
        log.info("source: %s", self.source.description)
        # Everything allocated so far lives for the whole show: keep the cyclic garbage
        # collector from walking it (a long collection on the callback's thread is a dropout).
        gc.collect()
        gc.freeze()
        try:
            self.source.start(self.ring)
            self._running = True
            self._started_at = time.monotonic()
            if self.live_mixer is not None:
                self.live_mixer.start()
                self._seed_room_profile()
            self._analysis = threading.Thread(target=self._analyse, name="liveai-analysis",
                                              daemon=True)
            self._analysis.start()
            for p in self.projectors:
                p.start()
            if self.osc_out is not None:
                self.osc_out.start()
            if self.osc_in is not None:
                self.osc_in.start()
            if self.oscquery is not None:
                self.oscquery.start()
            self.link.start()
            if self.midi is not None:
                self.midi.start()
        except BaseException:
            self.stop()
            raise

    def _seed_room_profile(self) -> None:
        """Start the mixer's room estimate at the soundcheck's delay (``[mixer] profile``)."""
        live, m = self.live_mixer, self.config.mixer
        if live is None or not m.mic_channel or m.profile == "none":
            return
        from liveai.mixer.measure import ProfileError
        from liveai.mixer.soundcheck import PROFILE_NAME, default_profile_dir

        path = (default_profile_dir() / f"{PROFILE_NAME}.json" if m.profile == "auto"
                else Path(m.profile).expanduser())
        if m.profile == "auto" and not path.is_file():
            log.info("no room profile at %s (liveai measure makes one): the mixer finds the "
                     "delay from the music", path)
            return
        manager = getattr(self.source, "manager", None)
        latency = manager.latency_s if manager is not None else None
        io_ms = 1e3 * sum(latency) if isinstance(latency, tuple) else None
        try:
            prof = live.mixer.load_profile(path, io_ms)
        except (ProfileError, OSError) as exc:
            log.warning("room profile %s not used (%s): the mixer finds the delay from the "
                        "music", path, exc)
            return
        delay_ms = 1e3 * live.mixer.estimator.delay_samples / live.mixer.sample_rate_hz
        log.info("room estimate starts from the soundcheck of %s (%s): delay %.1f ms",
                 prof.date or "an unknown date", path, delay_ms)

    def stop(self) -> None:
        """Stop everything (projectors first, then the analysis, then the audio)."""
        self._running = False  # a live OSC-out change from now on starts no sender
        self.record.request_stop()
        if self.midi is not None:
            self.midi.stop()
        self.link.stop()
        if self.oscquery is not None:
            self.oscquery.stop()
        if self.osc_in is not None:
            self.osc_in.stop()
        if self.osc_out is not None:
            self.osc_out.stop()
        for p in self.projectors:
            p.stop()
        self._stop.set()
        if self._analysis is not None:
            self._analysis.join(timeout=5.0)
        if self.live_mixer is not None:
            self.live_mixer.stop()
        self.source.stop()

    def _on_param(self, address: str, value: object, source: str) -> None:
        """Store listener: OSC out targets changed live (``/liveai/osc_out/targets``)."""
        if address != "/liveai/osc_out/targets" or source == "preset" or not isinstance(value,
                                                                                       str):
            return
        sender = self.osc_out
        if sender is None:  # the preset sent nothing out: start a sender now
            sender = FeatureSender(self.record, [], self.config.osc_out.rate_hz,
                                   crowd=self._crowd_levels)
        for problem in sender.set_native_targets(value, self._allowed_host):
            log.warning("OSC out target left out: %s", problem)
        log.info("OSC out to %s", ", ".join(f"{h}:{p}" for h, p in sender.addresses) or "nobody")
        if self.osc_out is None:
            self.osc_out = sender
            if self._running:
                sender.start()

    def _allowed_host(self, host: str) -> bool:
        """True for an IP address inside ``control.allow`` (IPv4-mapped IPv6 as IPv4)."""
        return in_networks(host, self._allow)

    def _crowd_levels(self) -> tuple[float, float] | None:
        """(crowd, music) dBFS at the room mic from the mixer's estimates (lock-free), or None."""
        snap = self.params.snapshot
        crowd_db = snap.value(self.params.slot("/liveai/mixer/crowd_level_db"))
        music_db = snap.value(self.params.slot("/liveai/mixer/music_level_db"))
        # -120 dB: the mixer has no measured crowd yet (or no mic): say nothing rather than 0
        return (crowd_db, music_db) if music_db > -100.0 and crowd_db > -119.0 else None

    def _scene_shown(self, index: int) -> None:
        """The projector changed scene (autopilot, keys): tell the store, so tablets follow."""
        self.params.set("/liveai/scene/index", index, source="projector")

    def close(self) -> None:
        """Release the shared record and the OSC socket."""
        if self.osc_in is not None:
            self.osc_in.stop()
        self.record.close()
        self.shared_params.close()

    # -- the analysis thread -------------------------------------------------------------------
    def _analyse(self) -> None:
        hop = self.config.analysis.hop_length
        hop_buf = np.zeros((hop, self.ring.channels), dtype=np.float32)
        idle_s = hop / self.source.sample_rate_hz / 4.0
        frame = self._frame
        rl = RateLimitedLogger(log)
        tail_hops = 1 + -(-self.analyzer.latency_samples // hop)  # partial hop + flush
        while not self._stop.is_set():
            # Read `finished` before the fill level: a source that ends in between still has
            # its last blocks read on the next pass.
            finished = self.source.finished
            available = self.ring.read_available()
            if available < hop:
                if not finished:
                    self._stop.wait(idle_s)
                    continue
                if tail_hops == 0:
                    frame["input_state"] = INPUT_ENDED
                    self.record.publish(frame)
                    self.source_drained.set()
                    return
                # The end of a finite source: analyse the last partial hop, zero-padded, then
                # enough silent hops for late-reported events (an onset at the very end).
                tail_hops -= 1
                hop_buf[:] = 0.0
                self.ring.read(hop_buf[:available])
            try:
                if available >= hop:
                    self.ring.read(hop_buf)
                self._hands.poll()
                self._clocks.poll(self.ring.read_available() / self.source.sample_rate_hz)
                self.analyzer.process_hop(hop_buf, frame)
                st = self.source.stats()
                frame["frame_index"] = self.feature_frames
                frame["input_state"] = INPUT_LOST if st.state == "lost" else INPUT_OK
                frame["xruns"] = st.xruns
                frame["overruns"] = st.overruns
                frame["silence_frames"] = st.silence_frames
                self.record.publish(frame)
                self.feature_frames += 1
                if self.on_frame is not None:
                    self.on_frame(frame)
            except Exception:  # keep the show going with the last good frame; say what broke
                self.analysis_errors += 1
                rl.warning("analysis", "analysis failed on a frame (%d so far); the projector "
                           "keeps the last good frame", self.analysis_errors, exc_info=True)

    # -- running -------------------------------------------------------------------------------
    def run(self, seconds: float | None = None) -> RunSummary:
        """Run until ``seconds`` pass, the source ends, the window is closed, or Ctrl-C/SIGTERM.

        Returns
        -------
        RunSummary
        """
        ended_by = "stopped"
        self.start()  # on failure it has already stopped what it started
        previous = signal.getsignal(signal.SIGTERM)
        in_main = threading.current_thread() is threading.main_thread()
        if in_main:
            signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            while True:
                if self._stop.wait(0.05):
                    ended_by = "stopped by signal"
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    ended_by = f"--seconds {seconds:g} elapsed"
                    break
                if self.source_drained.is_set():
                    ended_by = "the source ended"
                    break
                if any(p.quit_requested for p in self.projectors):
                    ended_by = "projector window closed"
                    break
        except KeyboardInterrupt:
            ended_by = "stopped with Ctrl-C"
        finally:
            elapsed = time.monotonic() - self._started_at
            self.stop()
            if in_main:
                signal.signal(signal.SIGTERM, previous)
        return self.summary(elapsed, ended_by)

    def summary(self, elapsed_s: float, ended_by: str) -> RunSummary:
        """Collect the counters of a run."""
        st = self.source.stats()
        return RunSummary(
            seconds=elapsed_s,
            source=self.source.description,
            feature_frames=self.feature_frames,
            projector_frames=sum(p.frames_rendered for p in self.projectors),
            projector_restarts=sum(p.restarts for p in self.projectors),
            projector_outputs=max(1, len(self.projectors)),
            xruns=st.xruns,
            overruns=st.overruns,
            silence_frames=st.silence_frames,
            nonfinite_samples=self.analyzer.nonfinite_samples,
            analysis_errors=self.analysis_errors,
            warmup_s=self.warmup_s,
            ended_by=ended_by,
            projector=bool(self.projectors),
            notes=((self.osc_in.summary_lines() if self.osc_in is not None else [])
                   + (self.oscquery.summary_lines() if self.oscquery is not None else [])
                   + (self.midi.summary_lines() if self.midi is not None else [])
                   + self.link.summary_lines()
                   + (self.live_mixer.summary_lines() if self.live_mixer is not None else [])),
        )


__all__ = ["Engine", "LiveAIError", "ProjectorSupervisor", "RunSummary", "build_source"]
