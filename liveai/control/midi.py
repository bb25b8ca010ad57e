"""MIDI: controllers play parameters, LEDs show them, MIDI clock in and out.

Parts kept apart, each testable alone:

- :class:`MidiMapper` (dispatch, no ports): control change and note messages → parameter writes
  through the :class:`~liveai.params.ParameterStore` (the same validation and feedback as OSC,
  source ``midi``), absolute / momentary / toggle modes, MIDI learn, and the feedback messages
  that put a changed value back on the controller's LEDs or motor faders.
- :class:`ClockIn`: 24 ppqn clock, start / stop / continue and song position pointer →
  tempo and beat position in an :class:`~liveai.control.clock.ExternalClock`.
- :class:`ClockOut`: a thread sending 24 ppqn clock (and start / stop) from the engine's
  tempo and beats, phase-locked to them.
- :class:`MidiControl` (transport): python-rtmidi ports on JACK MIDI (when a JACK server
  runs) or ALSA, chosen by name substring, found again when a controller is plugged back in;
  one thread polls the input and sends the feedback.

Messages are parsed and built with mido; the ports are python-rtmidi's, polled from liveai's own
thread: a callback would run Python (and take the GIL) inside JACK's real-time process thread,
and mido's rtmidi input always installs one. rtmidi's time stamps are kept for the clock.

Learned mappings are saved (atomically) in ``~/.config/liveai/midi.toml`` (``midi.learn_file``),
one ``[[map]]`` table each, in the same format as the preset's ``[[midi.map]]``.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import tempfile
import threading
import time
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import mido

from liveai.config import ConfigError, MidiConfig, MidiMapConfig, build
from liveai.control.clock import EngineBeats, ExternalClock
from liveai.errors import LiveAIError
from liveai.log import RateLimitedLogger
from liveai.params import ROOT, ParameterStore, ParamSpec, ParamType

log = logging.getLogger(__name__)

#: How often the MIDI thread looks at the input (s); clock timing uses rtmidi's time stamps.
POLL_S = 0.002
#: Clock ticks per quarter note.
PPQN = 24
#: Ticks the clock-in tempo is fitted over (two beats).
CLOCK_FIT_TICKS = 48
#: A clock that sent no tick for this long has stopped (s).
CLOCK_TIMEOUT_S = 0.5
#: Messages RtMidi queues between two polls at most.
QUEUE_SIZE = 4096
#: A parameter is pressed by a control change at or above this value.
PRESS_CC = 64

LEARN = ROOT + "/midi/learn"
LEARN_MODE = ROOT + "/midi/learn_mode"
FORGET = ROOT + "/midi/forget"
CONNECTED = ROOT + "/midi/connected"
CLOCK_OUT = ROOT + "/midi/clock_out"
CLOCK_IN_FOLLOW = ROOT + "/midi/clock_in/follow"
CLOCK_IN_RUNNING = ROOT + "/midi/clock_in/running"
CLOCK_IN_BPM = ROOT + "/midi/clock_in/bpm"
_OWN = (LEARN, LEARN_MODE, FORGET, CONNECTED, CLOCK_IN_RUNNING, CLOCK_IN_BPM)

CLOCK, START, CONTINUE, STOP, SONG_POSITION = 0xF8, 0xFA, 0xFB, 0xFC, 0xF2


class MidiError(LiveAIError):
    """MIDI cannot run: no JACK server and no ALSA sequencer, or python-rtmidi is missing."""


# -- mappings ------------------------------------------------------------------------------------
Control = tuple[str, int, int]  # ("cc" | "note", channel 1-16 or 0 = any, number)


def default_learn_file() -> Path:
    """``$XDG_CONFIG_HOME/liveai/midi.toml`` (``~/.config/liveai/midi.toml``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "liveai" / "midi.toml"


def load_learned(path: Path) -> list[MidiMapConfig]:
    """Read learned mappings; a missing file is none.

    Raises
    ------
    ConfigError
        For a file that is not valid TOML or holds a bad mapping (naming the file and key).
    """
    if not path.is_file():
        return []
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read learned MIDI mappings: {exc}") from None
    entries = table.get("map", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: map should be a list of tables ([[map]])")
    maps = [build(MidiMapConfig, e, str(path), f"map[{i}].") for i, e in enumerate(entries)]
    for i, m in enumerate(maps):
        m.validate(str(path), f"map[{i}]")
    return maps


def save_learned(path: Path, maps: list[MidiMapConfig]) -> None:
    """Write learned mappings atomically (a crash never leaves half a file)."""
    lines = ["# liveai: MIDI mappings made with /liveai/midi/learn. Edit or delete freely;",
             "# same keys as [[midi.map]] in a preset.", ""]
    for m in maps:
        lines += ["[[map]]", f'type = "{m.type}"', f"channel = {m.channel}",
                  f"number = {m.number}", f'address = "{m.address}"', f'mode = "{m.mode}"']
        if m.range:
            lines.append(f"range = [{float(m.range[0])!r}, {float(m.range[1])!r}]")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class _Bound:
    """A mapping checked against the store: its spec and the range 0..127 covers."""

    map: MidiMapConfig
    spec: ParamSpec
    lo: float
    hi: float

    @property
    def control(self) -> Control:
        return (self.map.type, self.map.channel, self.map.number)


def _press_of(msg: mido.Message) -> tuple[Control, int, bool | None] | None:
    """``(control, value 0..127, pressed)`` of a cc/note message; pressed None = no edge."""
    if msg.type == "control_change":
        return ("cc", msg.channel + 1, msg.control), msg.value, msg.value >= PRESS_CC
    if msg.type == "note_on":
        return ("note", msg.channel + 1, msg.note), msg.velocity, msg.velocity > 0
    if msg.type == "note_off":
        return ("note", msg.channel + 1, msg.note), 0, False
    return None


class MidiMapper:
    """Control change and note messages → parameter writes; learn; LED feedback (no ports).

    Parameters
    ----------
    store : ParameterStore
    maps : list of MidiMapConfig
        From the preset (``[[midi.map]]``).
    learned : list of MidiMapConfig
        From the learn file; a learned control replaces a preset mapping of the same control.
    learn_file : pathlib.Path, optional
        Where learned mappings are saved (None: kept in memory only).
    """

    def __init__(self, store: ParameterStore, maps: list[MidiMapConfig],
                 learned: list[MidiMapConfig] | None = None,
                 learn_file: Path | None = None) -> None:
        self.store = store
        self.learn_file = learn_file
        self.preset_maps = list(maps)
        self.learned = list(learned or [])
        self.bound: dict[Control, list[_Bound]] = {}
        self.by_address: dict[str, list[_Bound]] = {}
        self._held: dict[Control, bool] = {}
        self.stats = {"messages": 0, "applied": 0, "refused": 0, "unmapped": 0, "learned": 0}
        self._rl = RateLimitedLogger(log)
        self.rebind()

    # -- the table --------------------------------------------------------------------------------
    def _bind(self, m: MidiMapConfig) -> _Bound | None:
        found = self.store.resolve(m.address)
        if found is None:
            log.warning("MIDI %s %d (channel %s): %s is not a parameter; mapping ignored "
                        "('liveai osc tree' lists them)", m.type, m.number,
                        m.channel or "any", m.address)
            return None
        spec, normalised = found
        if normalised:
            m = replace(m, address=spec.address)
        if spec.kind == ParamType.STRING or spec.size > 1:
            log.warning("MIDI %s %d: %s is %s; a MIDI control plays numbers, on/off, choices "
                        "and triggers only", m.type, m.number, spec.address, spec.type_text())
            return None
        if spec.read_only:
            log.warning("MIDI %s %d: %s is read-only (liveai's own estimate); mapping ignored",
                        m.type, m.number, spec.address)
            return None
        if spec.kind == ParamType.CHOICE:
            lo, hi = 0.0, float(len(spec.choices) - 1)
        elif spec.kind in (ParamType.FLOAT, ParamType.INT):
            lo, hi = float(spec.minimum), float(spec.maximum)
        else:
            lo, hi = 0.0, 1.0
        if m.range:
            lo, hi = float(m.range[0]), float(m.range[1])
        return _Bound(m, spec, lo, hi)

    def rebind(self) -> None:
        """Check every mapping against the store again (after parameters were added)."""
        learned_controls = {(m.type, m.channel, m.number) for m in self.learned}
        maps = [m for m in self.preset_maps
                if (m.type, m.channel, m.number) not in learned_controls] + self.learned
        bound: dict[Control, list[_Bound]] = {}
        by_address: dict[str, list[_Bound]] = {}
        for m in maps:
            b = self._bind(m)
            if b is not None:
                bound.setdefault(b.control, []).append(b)
                by_address.setdefault(b.spec.address, []).append(b)
        self.bound, self.by_address = bound, by_address

    def _lookup(self, control: Control) -> list[_Bound]:
        kind, _channel, number = control
        return self.bound.get(control, []) + self.bound.get((kind, 0, number), [])

    # -- in ---------------------------------------------------------------------------------------
    def handle(self, msg: mido.Message) -> bool:
        """Apply one message; True when it was a mapped (or learned) control."""
        got = _press_of(msg)
        if got is None:
            return False
        control, value, pressed = got
        self.stats["messages"] += 1
        was = self._held.get(control, False)
        self._held[control] = pressed
        edge_down = pressed and not was
        target = self.store.get(LEARN) if LEARN in self.store else ""
        # Any movement of a knob or fader is learned (it may never pass half-way); a key or
        # pad when it is pressed.
        learning = bool(target) and (edge_down or control[0] == "cc")
        if learning:
            self._learn(control, target)
        maps = self._lookup(control)
        if not maps:
            self.stats["unmapped"] += 1
            return learning
        for b in maps:
            new = self._value(b, control[0], value, pressed, edge_down, was)
            if new is _SKIP:
                continue
            result = self.store.set(b.spec.address, new, "midi")
            if result.ok:
                self.stats["applied"] += 1
            else:
                self.stats["refused"] += 1
                self._rl.warning(f"refused{b.spec.address}", "MIDI %s %d → %s refused: %s",
                                 control[0], control[2], b.spec.address, result.message)
        return True

    def _value(self, b: _Bound, kind: str, value: int, pressed: bool, edge_down: bool,
               was: bool) -> Any:
        spec, mode = b.spec, b.map.mode
        if spec.kind == ParamType.TRIGGER:  # fires on a press, whatever the mode
            return True if edge_down else _SKIP
        if mode == "absolute":
            if kind == "note" and not pressed:
                return _SKIP  # a key's release leaves the value where its velocity put it
            return self._scaled(b, value / 127.0)
        if mode == "momentary":
            if pressed == was and not edge_down:
                return _SKIP
            return self._scaled(b, 1.0 if pressed else 0.0)
        # toggle
        if not edge_down:
            return _SKIP
        current = self.store.get(spec.address)
        if spec.kind == ParamType.BOOL:
            return not current
        on = self._scaled(b, 1.0)
        return self._scaled(b, 0.0) if current == on else on

    @staticmethod
    def _scaled(b: _Bound, x: float) -> Any:
        """0..1 → the parameter's own value within the mapping's range."""
        spec = b.spec
        y = b.lo + x * (b.hi - b.lo)
        if spec.kind == ParamType.BOOL:
            return x >= 0.5
        if spec.kind == ParamType.CHOICE:
            return spec.choices[min(max(round(y), 0), len(spec.choices) - 1)]
        if spec.kind == ParamType.INT:
            return round(y)
        return y

    # -- learn ------------------------------------------------------------------------------------
    def check_learn_target(self, target: str) -> str:
        """Why ``target`` cannot be learned (empty when it can)."""
        found = self.store.resolve(target)
        if found is None:
            return f"{target!r} is not a parameter"
        spec = found[0]
        if spec.address in _OWN:
            return f"{spec.address} is MIDI's own"
        if spec.read_only:
            return f"{spec.address} is read-only (liveai's own estimate)"
        if spec.kind == ParamType.STRING or spec.size > 1:
            return (f"{spec.address} is {spec.type_text()}: MIDI plays numbers, on/off, "
                    "choices and triggers")
        return ""

    def _learn(self, control: Control, target: str) -> None:
        why = self.check_learn_target(target)
        if why:
            log.warning("MIDI learn: %s; learn cancelled", why)
            self.store.set(LEARN, "", "midi")
            return
        spec = self.store.resolve(target)[0]
        mode = self.store.get(LEARN_MODE) if LEARN_MODE in self.store else "auto"
        if mode == "auto":
            if spec.kind == ParamType.TRIGGER:
                mode = "momentary"
            elif spec.kind == ParamType.BOOL and control[0] == "note":
                mode = "toggle"
            else:
                mode = "absolute"
        kind, channel, number = control
        m = MidiMapConfig(type=kind, channel=channel, number=number, address=spec.address,
                          mode=mode)
        # One control plays one learned parameter; learning an address again moves it.
        self.learned = [x for x in self.learned
                        if (x.type, x.channel, x.number) != control and x.address != spec.address]
        self.learned.append(m)
        self.rebind()
        self.stats["learned"] += 1
        log.info("MIDI learn: %s %d on channel %d now plays %s (%s)", kind, number, channel,
                 spec.address, mode)
        self._save()
        self.store.set(LEARN, "", "midi")

    def forget(self, address: str) -> int:
        """Remove the learned mappings of ``address``; return how many went."""
        found = self.store.resolve(address)
        address = found[0].address if found else address
        before = len(self.learned)
        self.learned = [m for m in self.learned if m.address != address]
        gone = before - len(self.learned)
        if gone:
            self.rebind()
            self._save()
            log.info("MIDI: forgot %d learned mapping(s) of %s", gone, address)
        return gone

    def _save(self) -> None:
        if self.learn_file is None:
            return
        try:
            save_learned(self.learn_file, self.learned)
        except OSError as exc:
            log.warning("MIDI learn: cannot save %s: %s (the mapping works until liveai stops)",
                        self.learn_file, exc)

    # -- out --------------------------------------------------------------------------------------
    def feedback(self, address: str, value: Any) -> list[mido.Message]:
        """Messages that show ``address``'s new ``value`` on the mapped controls."""
        out = []
        for b in self.by_address.get(address, ()):
            spec = b.spec
            if spec.kind == ParamType.TRIGGER:
                continue
            if spec.kind == ParamType.BOOL:
                x = 1.0 if value else 0.0
            else:
                v = float(spec.choices.index(value)) if spec.kind == ParamType.CHOICE else value
                x = (float(v) - b.lo) / (b.hi - b.lo) if b.hi != b.lo else 0.0
            v7 = min(max(round(x * 127.0), 0), 127)
            channel = max(b.map.channel, 1) - 1
            if b.map.type == "cc":
                out.append(mido.Message("control_change", channel=channel,
                                        control=b.map.number, value=v7))
            else:  # note on with velocity 0 is "LED off" on every pad controller
                out.append(mido.Message("note_on", channel=channel, note=b.map.number,
                                        velocity=v7))
        return out


_SKIP = object()


# -- clock in ------------------------------------------------------------------------------------
class ClockIn:
    """MIDI clock → tempo and beat position.

    Ticks are time-stamped with rtmidi's delta times (the driver's clock, free of polling
    jitter), mapped onto ``time.monotonic()`` by the smallest receive delay seen lately. The
    tempo is a least-squares fit over the last two beats of ticks. Position: after Start, the
    first tick is beat 0; a song position pointer (in sixteenths) sets the position of the next
    tick; Continue goes on from there. While the transport runs the reading is published to
    :attr:`clock`; Stop (or a clock that falls silent) releases it.

    Parameters
    ----------
    clock : ExternalClock
    """

    def __init__(self, clock: ExternalClock) -> None:
        self.clock = clock
        self.running = False
        self.tempo_bpm = 0.0
        self.ticks = -1  # index of the last tick (position = ticks / 24 beats)
        self._times: collections.deque[float] = collections.deque(maxlen=CLOCK_FIT_TICKS)
        self._indices: collections.deque[int] = collections.deque(maxlen=CLOCK_FIT_TICKS)
        self._device_s = 0.0
        self._offsets: collections.deque[tuple[float, float]] = collections.deque(maxlen=256)
        self._last_tick_mono = -math.inf
        self._fit_line: tuple[float, float, float] | None = None
        #: Publish to :attr:`clock` (``/liveai/midi/clock_in/follow``); the tempo is always read.
        self.follow = True

    def _mono(self, device_s: float, received_s: float) -> float:
        """Map a device time stamp onto ``time.monotonic()``: the least delay lately seen."""
        self._offsets.append((received_s, received_s - device_s))
        while self._offsets and received_s - self._offsets[0][0] > 2.0:
            self._offsets.popleft()
        return device_s + min(o for _, o in self._offsets)

    def handle(self, status: int, data: list[int], delta_s: float, received_s: float) -> None:
        """One realtime or song-position message, with rtmidi's delta time (s)."""
        self._device_s += delta_s
        if status == CLOCK:
            t = self._mono(self._device_s, received_s)
            if t - self._last_tick_mono > CLOCK_TIMEOUT_S:
                self._times.clear()
                self._indices.clear()
            self._last_tick_mono = t
            self.ticks += 1
            self._times.append(t)
            self._indices.append(self.ticks)
            self._fit()
            if self.running and self.follow and self.tempo_bpm > 0:
                self.clock.publish(self.tempo_bpm, self._fitted_position(t), t)
        elif status == START:
            self.ticks = -1
            self._start("start")
        elif status == CONTINUE:
            self._start("continue")
        elif status == STOP:
            if self.running:
                log.info("MIDI clock stopped at beat %.2f", max(self.ticks, 0) / PPQN)
            self.running = False
            self.clock.release()
        elif status == SONG_POSITION and len(data) >= 2:
            sixteenths = data[0] | (data[1] << 7)
            self.ticks = sixteenths * (PPQN // 4) - 1  # the next tick is this position
            self._times.clear()  # positions jump: refit from here
            self._indices.clear()

    def _start(self, how: str) -> None:
        self.running = True
        self._times.clear()
        self._indices.clear()
        log.info("MIDI clock %s at beat %.2f", how, (self.ticks + 1) / PPQN)

    def _fit(self) -> None:
        n = len(self._times)
        if n < 4:
            return
        t0 = self._times[0]
        ts = [t - t0 for t in self._times]
        ks = list(self._indices)
        mk, mt = sum(ks) / n, sum(ts) / n
        var = sum((k - mk) ** 2 for k in ks)
        if var <= 0:
            return
        slope = sum((k - mk) * (t - mt) for k, t in zip(ks, ts, strict=True)) / var  # [s/tick]
        if slope > 0:
            self.tempo_bpm = 60.0 / (slope * PPQN)  # [s/min] / ([s/tick] * [ticks/beat])
            self._fit_line = (t0 + mt, mk, slope)

    def _fitted_position(self, t: float) -> float:
        line = self._fit_line
        if line is None or len(self._times) < 4:
            return self.ticks / PPQN
        tm, km, slope = line
        # The fitted tick index at t, kept within half a tick of the tick just counted.
        k = km + (t - tm) / slope
        k = min(max(k, self.ticks - 0.5), self.ticks + 0.5)
        return k / PPQN

    def poll(self, now_s: float) -> None:
        """Release the clock when ticks stopped coming (the transport state is kept)."""
        if self.tempo_bpm and now_s - self._last_tick_mono > CLOCK_TIMEOUT_S:
            log.info("MIDI clock gone (no tick for %.1f s)", CLOCK_TIMEOUT_S)
            self.tempo_bpm = 0.0
            self._fit_line = None
            self.clock.release()


# -- clock out -----------------------------------------------------------------------------------
class ClockOut:
    """Sends 24 ppqn MIDI clock phase-locked to the engine's beats, with start / stop.

    Start goes out on the next downbeat (the next beat while the bar is unknown), so a
    sequencer's bar lines up with liveai's. Tick spacing is kept within ±10 % of the nominal
    one while the ticks catch up with the engine's beat position, so a receiver's tempo never
    jumps; an error of more than half a beat (a re-detected downbeat, a thread that was held
    up) is taken as a new reference without a burst of ticks.

    Parameters
    ----------
    send : callable
        ``send(bytes)`` on the output port (thread-safe).
    beats : EngineBeats
    enabled : callable
        Returns True while clock out is on (read each tick).
    """

    def __init__(self, send, beats: EngineBeats, enabled) -> None:
        self.send = send
        self.beats = beats
        self.enabled = enabled
        self.ticks_sent = 0
        self.playing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the clock thread."""
        self._thread = threading.Thread(target=self._run, name="liveai-midi-clock", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; a running transport gets a Stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def _sleep_until(self, t: float) -> bool:
        """Sleep until monotonic ``t``; False when stopped meanwhile."""
        while True:
            left = t - time.monotonic()
            if left <= 0:
                return not self._stop.is_set()
            if self._stop.wait(min(left, 0.005)):
                return False

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self.playing:
                self.send(bytes([STOP]))
                self.playing = False

    def _loop(self) -> None:
        anchor = 0.0  # beat position of tick 0
        sent = 0
        last_tick_s = 0.0
        while not self._stop.is_set():
            reading = self.beats.read() if self.enabled() else None
            if reading is None:
                if self.playing:
                    self.send(bytes([STOP]))
                    self.playing = False
                    log.info("MIDI clock out stopped")
                self._stop.wait(0.01)
                continue
            tempo, pos = reading.tempo_bpm, reading.position_beats
            if not self.playing:
                bar = self.beats.metre if self.beats.downbeat_known else 1
                boundary = round(pos / bar) * bar
                if abs(pos - boundary) > 0.05:  # not at a bar (beat) line: look again shortly
                    ahead_beats = (math.floor(pos / bar) + 1) * bar - pos
                    self._sleep_until(time.monotonic() + min(ahead_beats * 60.0 / tempo, 0.005))
                    continue
                self.send(bytes([START]))
                self.send(bytes([CLOCK]))
                self.playing = True
                anchor, sent, last_tick_s = float(boundary), 1, time.monotonic()
                self.ticks_sent += 1
                log.info("MIDI clock out started at %.1f BPM", tempo)
                continue
            nominal_s = 60.0 / (PPQN * tempo)  # [s/min] / ([ticks/beat] * [beats/min])
            due_beats = anchor + sent / PPQN - pos
            if abs(due_beats) > 0.5:  # the engine's grid jumped: a new reference, no burst
                anchor = pos - (sent - 1) / PPQN
                due_beats = 1.0 / PPQN
            due_s = reading.time_s + due_beats * 60.0 / tempo
            due_s = min(max(due_s, last_tick_s + 0.9 * nominal_s), last_tick_s + 1.1 * nominal_s)
            if due_s - time.monotonic() > 0.006:  # re-read the beat before a long wait ends
                self._sleep_until(due_s - 0.004)
                continue
            if not self._sleep_until(due_s):
                return
            self.send(bytes([CLOCK]))
            last_tick_s = time.monotonic()
            sent += 1
            self.ticks_sent += 1


# -- ports ---------------------------------------------------------------------------------------
def _rtmidi():
    try:
        import rtmidi
    except ImportError as exc:  # pragma: no cover - a dependency
        raise MidiError(f"python-rtmidi is not installed ({exc}); run 'make setup'") from None
    return rtmidi


def choose_api(backend: str) -> tuple[int, str]:
    """The rtmidi API to use: ``(api, "JACK" | "ALSA")``.

    ``auto`` takes JACK when a JACK server answers, else the ALSA sequencer.

    Raises
    ------
    MidiError
        When the asked-for backend (or, for auto, either) cannot be opened; says why.
    """
    rtmidi = _rtmidi()
    tries = {"jack": [(rtmidi.API_UNIX_JACK, "JACK")], "alsa": [(rtmidi.API_LINUX_ALSA, "ALSA")],
             "auto": [(rtmidi.API_UNIX_JACK, "JACK"), (rtmidi.API_LINUX_ALSA, "ALSA")]}[backend]
    reasons = []
    for api, name in tries:
        if api not in rtmidi.get_compiled_api():
            reasons.append(f"{name}: not built into python-rtmidi")
            continue
        try:
            probe = rtmidi.MidiIn(api, "liveai-probe")
        except rtmidi.RtMidiError as exc:
            reasons.append(f"{name}: {exc}")
            continue
        probe.delete()
        return api, name
    hint = ("start a JACK server, or give this user the ALSA sequencer (/dev/snd/seq, the "
            "snd-seq module and the 'audio' group)")
    raise MidiError("no MIDI backend: " + "; ".join(reasons) + f" — {hint}")


def list_ports(backend: str = "auto") -> tuple[str, list[str], list[str]]:
    """``(backend name, ports liveai can read from, ports it can send to)``.

    Raises
    ------
    MidiError
        When no backend can be opened (see :func:`choose_api`).
    """
    rtmidi = _rtmidi()
    api, name = choose_api(backend)
    inp, out = rtmidi.MidiIn(api, "liveai-list"), rtmidi.MidiOut(api, "liveai-list")
    try:
        return name, list(inp.get_ports()), list(out.get_ports())
    finally:
        inp.delete()
        out.delete()


class _Port:
    """One rtmidi input or output: liveai's own virtual port, or a connection to a named one."""

    def __init__(self, api: int, output: bool, want: str, own_name: str) -> None:
        rtmidi = _rtmidi()
        self.output = output
        self.want = want
        self.own_name = own_name
        client = own_name
        self.rt = (rtmidi.MidiOut(api, client) if output
                   else rtmidi.MidiIn(api, client, queue_size_limit=QUEUE_SIZE))
        if not output:
            self.rt.ignore_types(sysex=True, timing=False, active_sense=True)
        self.name = ""  # what it is connected to (or its own port's name)
        self.open = False

    def connect(self) -> bool:
        """Open the port (again); True when open. Logs what it found."""
        if self.open:
            return True
        if not self.want:
            self.rt.open_virtual_port("midi")
            self.name, self.open = f"{self.own_name}:midi", True
            return True
        ports = self.rt.get_ports()
        matches = [i for i, n in enumerate(ports) if self.want.casefold() in n.casefold()]
        if not matches:
            return False
        self.rt.open_port(matches[0], "midi")
        self.name, self.open = ports[matches[0]], True
        return True

    def still_there(self) -> bool:
        """False when the port it was connected to is gone (unplugged)."""
        if not self.open or not self.want:
            return self.open
        return self.name in self.rt.get_ports()

    def available(self) -> list[str]:
        """Names of the ports it could connect to."""
        try:
            return list(self.rt.get_ports())
        except Exception:  # the server went away
            return []

    def close(self) -> None:
        """Close the connection (the object stays usable)."""
        if self.open:
            self.rt.close_port()
        self.open = False

    def delete(self) -> None:
        """Close and free the client."""
        self.close()
        self.rt.delete()


class MidiControl:
    """MIDI ports, mappings, learn, LED feedback and clocks, on one thread (plus the clock's).

    Never raises for a missing port or backend: it logs what is missing and what to do, and
    keeps looking for the port every ``reconnect_s``; the show runs on.

    Parameters
    ----------
    store : ParameterStore
    config : MidiConfig
    beats : EngineBeats, optional
        The engine's beats, for clock out.
    """

    def __init__(self, store: ParameterStore, config: MidiConfig,
                 beats: EngineBeats | None = None) -> None:
        self.store = store
        self.config = config
        self.beats = beats
        self.clock = ExternalClock("MIDI clock")
        self.clock_in = ClockIn(self.clock)
        self.clock_in.follow = config.clock_in
        self.learn_file = (Path(config.learn_file).expanduser() if config.learn_file
                           else default_learn_file())
        try:
            learned = load_learned(self.learn_file)
        except ConfigError as exc:
            broken = self.learn_file.with_name(self.learn_file.name + ".broken")
            log.warning("%s; it is kept as %s and learning starts afresh", exc, broken)
            try:
                os.replace(self.learn_file, broken)
            except OSError:
                pass
            learned = []
        self.mapper = MidiMapper(store, list(config.map), learned, self.learn_file)
        self.backend = ""
        self.api: int | None = None
        self.inp: _Port | None = None
        self.out: _Port | None = None
        self._send_lock = threading.Lock()
        # Bounded: when MIDI could not start nothing drains them, and the show must not grow.
        self._pending: collections.deque[tuple[str, Any]] = collections.deque(maxlen=4096)
        self._requests: collections.deque[tuple[str, str]] = collections.deque(maxlen=64)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.clock_out: ClockOut | None = None
        self.sent = 0
        self.received = 0
        self.send_errors = 0
        self._rl = RateLimitedLogger(log)
        for address, value in ((CLOCK_OUT, config.clock_out),
                               (CLOCK_IN_FOLLOW, config.clock_in)):
            if address in store:
                store.set(address, value, "preset")
        store.subscribe(self._on_change)

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the backend and ports (as far as they exist), start the threads."""
        try:
            self.api, self.backend = choose_api(self.config.backend)
        except MidiError as exc:
            log.warning("MIDI is off: %s. The show goes on without it.", exc)
            return
        try:
            self.inp = _Port(self.api, False, self.config.input, "liveai-in")
            self.out = _Port(self.api, True, self.config.output, "liveai-out")
        except Exception as exc:  # rtmidi raises its own errors, and SystemError
            log.warning("MIDI is off: cannot create %s MIDI ports: %s", self.backend, exc)
            self.inp = self.out = None
            return
        self._connect(first=True)
        self._thread = threading.Thread(target=self._run, name="liveai-midi", daemon=True)
        self._thread.start()
        if self.beats is not None:
            self.clock_out = ClockOut(self._send_bytes, self.beats,
                                      lambda: bool(self._get(CLOCK_OUT, False)))
            self.clock_out.start()

    def stop(self) -> None:
        """Stop the threads and close the ports."""
        self._stop.set()
        self.store.unsubscribe(self._on_change)
        if self.clock_out is not None:
            self.clock_out.stop()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.clock.release()
        busy = [t.name for t in (self._thread, getattr(self.clock_out, "_thread", None))
                if t is not None and t.is_alive()]
        if busy:
            # Freeing a port another thread still reads crashes RtMidi's JACK backend: leak
            # the ports for the rest of the process instead.
            log.warning("MIDI threads %s did not stop in time; their ports stay open",
                        ", ".join(busy))
            return
        for port in (self.inp, self.out):
            if port is not None:
                try:
                    port.delete()
                except Exception:  # the server is already gone
                    pass
        self.inp = self.out = None

    @property
    def connected(self) -> bool:
        """True while the input port is open."""
        return self.inp is not None and self.inp.open

    def _get(self, address: str, default: Any) -> Any:
        return self.store.get(address) if address in self.store else default

    def _set(self, address: str, value: Any) -> None:
        if address in self.store and self.store.get(address) != value:
            self.store.set(address, value, "midi")

    def _connect(self, first: bool = False) -> None:
        for port, what in ((self.inp, "input"), (self.out, "output")):
            if port is None:
                continue
            if port.open and not port.still_there():
                log.warning("MIDI %s %r disconnected; liveai looks for it again every %g s",
                            what, port.name, self.config.reconnect_s)
                port.close()
            if port.open:
                continue
            try:
                ok = port.connect()
            except Exception as exc:
                ok = False
                self._rl.warning(f"open{what}", "MIDI %s %r cannot be opened: %s", what,
                                 port.want, exc)
            if ok:
                log.info("MIDI %s (%s): %s", what, self.backend, port.name)
            elif first:
                log.warning("MIDI %s %r not found (%s ports: %s); liveai looks for it every "
                            "%g s and goes on without it meanwhile", what, port.want,
                            self.backend, ", ".join(port.available()) or "none",
                            self.config.reconnect_s)
        self._set(CONNECTED, self.connected)

    # -- the MIDI thread --------------------------------------------------------------------------
    def _on_change(self, address: str, value: Any, source: str) -> None:
        """Store listener (any thread, store lock held): queue work for the MIDI thread."""
        if address in (LEARN, FORGET):
            if value:
                self._requests.append((address, value))
        elif address == CLOCK_IN_FOLLOW:
            self.clock_in.follow = bool(value)
            if not value:
                self.clock.release()
        elif (self.config.feedback and self._thread is not None
              and address in self.mapper.by_address):
            self._pending.append((address, value))

    def _run(self) -> None:
        next_check = time.monotonic() + self.config.reconnect_s
        inp = self.inp
        parser = mido.Parser()
        while not self._stop.wait(POLL_S):
            now = time.monotonic()
            try:
                while inp.open:
                    got = inp.rt.get_message()
                    if got is None:
                        break
                    self.received += 1
                    self._message(got[0], got[1], now, parser)
                self.clock_in.poll(now)
                self._set(CLOCK_IN_RUNNING, self.clock_in.running)
                bpm = round(self.clock_in.tempo_bpm, 1)
                if abs(self._get(CLOCK_IN_BPM, bpm) - bpm) >= 0.1:
                    self._set(CLOCK_IN_BPM, min(bpm, 999.0))
                while self._requests:
                    self._request(*self._requests.popleft())
                self._feedback()
                if now >= next_check:
                    next_check = now + self.config.reconnect_s
                    self._connect()
            except Exception:  # a bug must cost a message, not MIDI for the rest of the show
                self._rl.warning("loop", "MIDI thread error", exc_info=True)

    def _message(self, data: list[int], delta_s: float, now: float, parser: mido.Parser) -> None:
        status = data[0] if data else 0
        if status in (CLOCK, START, CONTINUE, STOP, SONG_POSITION):
            self.clock_in.handle(status, data[1:], delta_s, now)
            return
        self.clock_in._device_s += delta_s  # keep the clock's time line whole
        parser.feed(data)
        for msg in parser:
            self.mapper.handle(msg)

    def _request(self, address: str, value: str) -> None:
        if address == LEARN:
            why = self.mapper.check_learn_target(value)
            if why:
                log.warning("MIDI learn: %s; learn cancelled", why)
                self._set(LEARN, "")
            else:
                log.info("MIDI learn: move a control to play %s", value)
        else:
            if not self.mapper.forget(value):
                log.info("MIDI: no learned mapping of %s to forget", value)
            self._set(FORGET, "")

    def _feedback(self) -> None:
        latest: dict[str, Any] = {}
        while self._pending:
            address, value = self._pending.popleft()
            latest[address] = value  # a fader storm: only the last value goes out
        for address, value in latest.items():
            for msg in self.mapper.feedback(address, value):
                self._send_bytes(bytes(msg.bytes()))

    def _send_bytes(self, data: bytes) -> None:
        out = self.out
        if out is None or not out.open:
            return
        try:
            with self._send_lock:
                out.rt.send_message(data)
            self.sent += 1
        except Exception as exc:
            self.send_errors += 1
            self._rl.warning("send", "MIDI send on %s failed: %s", out.name, exc)

    def summary_lines(self) -> list[str]:
        """One line for the run summary."""
        s = self.mapper.stats
        return [f"MIDI ({self.backend or 'off'}): {self.received} messages in, {s['applied']} "
                f"applied, {s['learned']} learned; {self.sent} sent"
                + (f", {self.clock_out.ticks_sent} clock ticks" if self.clock_out else "")]
