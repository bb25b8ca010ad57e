"""Typed settings: frozen dataclasses loaded from TOML presets.

Every field carries its unit in its name and its allowed range in its metadata, so one generic
loader can check a preset and name the file, the key and the bad value in one line.
A preset file is a show: ``presets/NAME.toml``. Missing tables and keys take their defaults.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liveai import osc_templates
from liveai.errors import ConfigError

#: Folder of the presets shipped with liveai (beside the package in a source checkout).
PACKAGED_PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
DEFAULT_PRESET = "default"


def _opt(default: Any, doc: str, **limits: Any) -> Any:
    """Declare a config field with its documentation and limits (min, max, choices)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default),
                     metadata={"doc": doc, **limits})
    return field(default=default, metadata={"doc": doc, **limits})


@dataclass(frozen=True)
class AudioConfig:
    """Where the music comes from and how it is streamed."""

    source: str = _opt(
        "auto",
        "auto: the input device, or the built-in demo when there is none; device; file; demo",
        choices=("auto", "device", "file", "demo"),
    )
    input: str = _opt("", "input device: name substring or index; empty = system default")
    output: str = _opt("", "output device for duplex streams: name substring or index")
    duplex: bool = _opt(False, "open input and output together, e.g. to sit in the PA path")
    sample_rate_hz: int = _opt(48000, "stream sample rate", choices=(44100, 48000, 88200, 96000))
    block_size: int = _opt(256, "frames per audio callback", min=32, max=2048)
    input_channels: list[int] = _opt(
        [1, 2], "1-based input channels carrying the music (the rest stay free, e.g. a mic)"
    )
    file: str = _opt("", "audio file for source = file")
    file_loop: bool = _opt(True, "loop the file at its end")
    ring_seconds: float = _opt(2.0, "capacity of the input ring", min=0.1, max=30.0)
    reconnect_max_s: float = _opt(
        5.0, "longest wait between two tries to reopen a lost device", min=0.1, max=60.0
    )

    def validate(self, where: str) -> None:
        """Check constraints that span fields."""
        chans = self.input_channels
        if not chans:
            raise ConfigError(f"{where}: audio.input_channels is empty; give at least one channel")
        for ch in chans:
            if not isinstance(ch, int) or isinstance(ch, bool) or not 1 <= ch <= 64:
                raise ConfigError(
                    f"{where}: audio.input_channels = {chans!r}: channel {ch!r} is not "
                    "a channel number between 1 and 64"
                )
        if len(set(chans)) != len(chans):
            raise ConfigError(f"{where}: audio.input_channels = {chans!r} lists a channel twice")
        if self.source == "file" and not self.file:
            raise ConfigError(f'{where}: audio.source = "file" needs audio.file = "path/to/track"')


@dataclass(frozen=True)
class AnalysisConfig:
    """How the input is cut into analysis frames."""

    hop_length: int = _opt(512, "samples between two feature frames", min=64, max=4096)
    n_fft: int = _opt(2048, "FFT size for spectra", choices=(512, 1024, 2048, 4096, 8192))

    def validate(self, where: str) -> None:
        """Check constraints that span fields."""
        if self.hop_length > self.n_fft:
            raise ConfigError(
                f"{where}: analysis.hop_length = {self.hop_length} is larger than "
                f"analysis.n_fft = {self.n_fft}; frames would skip audio"
            )


@dataclass(frozen=True)
class OutputConfig:
    """One more projector output (``[[projector.outputs]]``): its own window and monitor."""

    monitor: str = _opt("", "monitor: name substring or index; empty = primary")
    fullscreen: bool = _opt(False, "fullscreen on that monitor")
    width: int = _opt(1280, "window width in pixels", min=64, max=16384)
    height: int = _opt(720, "window height in pixels", min=64, max=16384)


@dataclass(frozen=True)
class ProjectorConfig:
    """The projector child process and its window."""

    enabled: bool = _opt(True, "start the projector process")
    monitor: str = _opt("", "monitor: name substring or index; empty = primary")
    fullscreen: bool = _opt(False, "fullscreen on the chosen monitor")
    width: int = _opt(1280, "window or offscreen width in pixels", min=64, max=16384)
    height: int = _opt(720, "window or offscreen height in pixels", min=64, max=16384)
    fps: float = _opt(
        60.0, "frame rate target (offscreen, or when vsync is off)", min=1.0, max=480.0
    )
    vsync: bool = _opt(True, "wait for the display's refresh")
    restart_max_s: float = _opt(
        5.0, "longest wait before restarting a projector that keeps crashing", min=0.1, max=60.0
    )
    outputs: list[OutputConfig] = _opt(
        [], "more outputs, each its own process and window showing the same show (up to 7)")

    def validate(self, where: str) -> None:
        """Check the number of outputs."""
        if len(self.outputs) > 7:
            raise ConfigError(f"{where}: projector.outputs lists {len(self.outputs)} outputs; "
                              "liveai drives at most 8 (the main one and 7 more)")


def split_host_port(text: str) -> tuple[str, int] | None:
    """``"host:port"`` or ``"[v6 address]:port"`` → ``(host, port)``; None when malformed."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        return None  # an IPv6 address needs brackets: [::1]:9000
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def _check_target_address(text: str, where: str, key: str) -> None:
    if split_host_port(text) is None:
        raise ConfigError(f'{where}: {key}: "{text}" should look like "127.0.0.1:9000" '
                          '(or "[::1]:9000" for IPv6)')


def _did_you_mean(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_range(value: Any, where: str, key: str) -> None:
    ok = (isinstance(value, list) and len(value) == 2
          and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                  for v in value))
    if not ok or value[0] >= value[1]:
        raise ConfigError(f"{where}: {key} = {value!r} should be [low, high] with low < high, "
                          "e.g. [60, 200]")


@dataclass(frozen=True)
class OscTargetConfig:
    """One OSC out target (``[[osc_out.targets]]``): where, and in which desk's dialect."""

    address: str = _opt("", 'the desk or tool, "host:port"')
    template: str = _opt("liveai", "the desk's addresses and value shapes (see \"Beats to the "
                         "lighting desk\"); liveai = the /liveai tree, custom = only `map`",
                         choices=tuple(osc_templates.TEMPLATES))
    prefix: str = _opt("", "replaces {prefix} in the addresses (empty = the template's: gma3 "
                       "for gma3, liveai for qlcplus)")
    map: dict = _opt({}, 'feature → address, added to or replacing the template\'s ("" = not '
                     'sent), e.g. { beat = "/gma3/Page1/Key101" }')
    scale: dict = _opt({}, "feature → [low, high] sent as the bottom / top of the address's "
                       "range, e.g. { bpm = [60, 200] } (default 0..1, bpm 60..200)")
    range: list[float] = _opt([], "[bottom, top] of value addresses (empty = the template's: "
                              "0..100 gma3, else 0..1)")
    release_ms: float = _opt(100.0, "a key address (beat, downbeat, drop, onsets) is pressed, "
                             "then released this much later", min=1.0, max=2000.0)

    @classmethod
    def from_text(cls, text: str) -> OscTargetConfig:
        """``"host:port"`` → a target with the ``liveai`` template."""
        return cls(address=text)

    def validate(self, where: str, key: str) -> None:
        """Check the address, the feature names and the ranges."""
        _check_target_address(self.address, where, f"{key}.address")
        features = osc_templates.FEATURES
        if self.template == "liveai" and (self.map or self.scale or self.range or self.prefix):
            raise ConfigError(f'{where}: {key}: template "liveai" sends the fixed /liveai tree; '
                              'use template = "custom" (or a desk\'s) to choose addresses')
        for name, address in self.map.items():
            if name not in features:
                raise ConfigError(f"{where}: {key}.map: unknown feature '{name}'"
                                  f"{_did_you_mean(name, features)}; features: "
                                  + ", ".join(features))
            if not isinstance(address, str) or (address and not address.startswith("/")):
                raise ConfigError(f"{where}: {key}.map.{name} = {_fmt(address)} should be an "
                                  'OSC address such as "/gma3/Page1/Key101" ("" = not sent)')
        for name, rng in self.scale.items():
            if name not in osc_templates.VALUE_FEATURES:
                hint = (" (an event is a press / release, it has no range)"
                        if name in features else _did_you_mean(name, osc_templates.VALUE_FEATURES))
                raise ConfigError(f"{where}: {key}.scale: '{name}' is not a value feature{hint}; "
                                  "value features: " + ", ".join(osc_templates.VALUE_FEATURES))
            _check_range(rng, where, f"{key}.scale.{name}")
        if self.range:
            _check_range(self.range, where, f"{key}.range")
        t = osc_templates.TEMPLATES[self.template]
        if self.prefix and self.template != "custom" and not any(
                "{prefix}" in a for a in t.map.values()):
            raise ConfigError(f'{where}: {key}.prefix = "{self.prefix}": template '
                              f'"{self.template}" has fixed addresses; change them with `map`')


@dataclass(frozen=True)
class OscOutConfig:
    """Features sent over OSC to lighting desks, tablets, other software."""

    targets: list[OscTargetConfig] = _opt(
        [], 'where to send: "host:port" each (the /liveai tree), or [[osc_out.targets]] tables '
        "with a desk template (none = off)")
    rate_hz: float = _opt(30.0, "rate of levels, tempo and phase (beats go out as they fire)",
                          min=1.0, max=200.0)

    def validate(self, where: str) -> None:
        """Check every target."""
        for i, t in enumerate(self.targets):
            if isinstance(t, str):  # built by hand (tests, the API)
                _check_target_address(t, where, "osc_out.targets")
            else:
                t.validate(where, f"osc_out.targets[{i}]")


@dataclass(frozen=True)
class ControlConfig:
    """OSC control in: where liveai listens, whom it accepts, whom it tells about changes."""

    osc_port: int = _opt(0, "UDP port liveai listens on for OSC control (0 = off)",
                         min=0, max=65535)
    osc_bind: str = _opt("127.0.0.1", "address to listen on: 127.0.0.1 = this computer only, "
                         "0.0.0.0 = every IPv4 interface, :: = every interface, IPv6 and IPv4")
    oscquery_port: int = _opt(0, "TCP port of the OSCQuery server (HTTP namespace + websocket "
                              "LISTEN), on osc_bind (0 = off)", min=0, max=65535)
    oscquery_zeroconf: bool = _opt(True, "advertise OSCQuery (_oscjson._tcp) and OSC "
                                   "(_osc._udp) with zeroconf, best effort")
    allow: list[str] = _opt(
        ["127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
         "::1/128", "fc00::/7", "fe80::/10"],
        'sender networks accepted (CIDR; IPv4 senders to an IPv6 socket count as IPv4); '
        'others are dropped ("0.0.0.0/0" and "::/0" = anyone)')
    feedback: list[str] = _opt([], 'tablets that always receive every change, "host:port" each')
    reply_port: int = _opt(0, "port senders receive feedback on (0 = the port they send from)",
                           min=0, max=65535)
    rate_limit_per_s: float = _opt(5000.0, "most OSC messages per second accepted from one "
                                   "sender host, a bundle counting each (0 = no limit)",
                                   min=0.0, max=1e6)
    receive_buffer_bytes: int = _opt(4194304, "UDP receive buffer that absorbs fader storms "
                                     "(capped by net.core.rmem_max)", min=65536, max=268435456)
    bundle_max_delay_s: float = _opt(10.0, "a bundle time-tagged up to this far ahead is "
                                     "applied at its time; further ahead is taken for a wrong "
                                     "clock and applied on arrival (0 = never wait)",
                                     min=0.0, max=3600.0)
    client_forget_s: float = _opt(1800.0, "a client silent this long gets no more feedback "
                                  "(configured feedback tablets always do)", min=1.0, max=1e6)

    def validate(self, where: str) -> None:
        """Check the bind address, the networks and the feedback targets."""
        try:
            ipaddress.ip_address(self.osc_bind)
        except ValueError:
            raise ConfigError(f'{where}: control.osc_bind = "{self.osc_bind}" is not an IP '
                              'address such as "127.0.0.1", "0.0.0.0" or "::"') from None
        for net in self.allow:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ConfigError(f'{where}: control.allow: "{net}" is not a network such as '
                                  '"192.168.1.0/24"') from None
        for t in self.feedback:
            if split_host_port(t) is None:
                raise ConfigError(f'{where}: control.feedback: "{t}" should look like '
                                  '"192.168.1.20:9000" (or "[fd00::20]:9000" for IPv6)')


@dataclass(frozen=True)
class MidiMapConfig:
    """One MIDI control → parameter mapping (``[[midi.map]]``)."""

    type: str = _opt("cc", "cc: a knob, fader or button sending control change; note: a key or "
                     "pad", choices=("cc", "note"))
    channel: int = _opt(0, "MIDI channel 1-16 (0 = any)", min=0, max=16)
    number: int = _opt(0, "controller or note number", min=0, max=127)
    address: str = _opt("", 'the parameter it plays, e.g. "/liveai/master/intensity"')
    mode: str = _opt("absolute", "absolute: the parameter follows the control (a note: its "
                     "velocity); momentary: on while held; toggle: each press flips",
                     choices=("absolute", "momentary", "toggle"))
    range: list[float] = _opt([], "[low, high] of the parameter that 0..127 covers (empty = "
                              "its whole range)")

    def validate(self, where: str, key: str) -> None:
        """Check the address and the range."""
        if not self.address.startswith("/liveai/"):
            raise ConfigError(f'{where}: {key}.address = "{self.address}" should be a '
                              'parameter address such as "/liveai/master/intensity" '
                              "('liveai osc tree' lists them)")
        if self.range:
            _check_range(self.range, where, f"{key}.range")


@dataclass(frozen=True)
class MidiConfig:
    """MIDI controllers, LED feedback and MIDI clock (``[midi]``)."""

    enabled: bool = _opt(False, "open MIDI ports (JACK MIDI when a JACK server runs, else ALSA)")
    backend: str = _opt("auto", "auto: JACK when a JACK server runs, else ALSA",
                        choices=("auto", "jack", "alsa"))
    input: str = _opt("", "controller to read: port name substring (empty: liveai's own port "
                      "'liveai-in', for other software to connect to)")
    output: str = _opt("", "port for LED feedback and clock out: name substring (empty: "
                       "liveai's own port 'liveai-out')")
    feedback: bool = _opt(True, "send mapped parameters' values back (LEDs, motor faders)")
    clock_in: bool = _opt(False, "follow MIDI clock on the input (24 ppqn; start, stop, "
                          "continue and song position honoured)")
    clock_out: bool = _opt(False, "send MIDI clock (24 ppqn, start/stop) from liveai's tempo")
    learn_file: str = _opt("", "where MIDI-learned mappings are kept (empty: "
                           "~/.config/liveai/midi.toml)")
    reconnect_s: float = _opt(2.0, "how often a missing port is looked for again", min=0.2,
                              max=60.0)
    map: list[MidiMapConfig] = _opt([], "control → parameter mappings (learned ones are added "
                                    "from learn_file)")

    def validate(self, where: str) -> None:
        """Check every mapping."""
        for i, m in enumerate(self.map):
            m.validate(where, f"midi.map[{i}]")


@dataclass(frozen=True)
class LinkConfig:
    """Ableton Link (``[link]``): tempo and beat phase shared with other apps on the network."""

    enabled: bool = _opt(False, "join the Link session on the local network")
    mode: str = _opt("follow", "follow: tempo and beat phase come from Link (while it has other "
                     "peers); lead: liveai's detected tempo and beats go to Link",
                     choices=("follow", "lead"))
    quantum: int = _opt(4, "beats per bar shared with the session (phase alignment)", min=1,
                        max=16)


@dataclass(frozen=True)
class MappingConfig:
    """One feature → scene-input mapping (``[[visuals.scenes.map]]``)."""

    source: str = _opt("bass", "audio feature: level, bass, mid, high, beat, beat_ahead, kick, "
                       "snare, hat, onset, bar, sin_x1, tri_x05, energy, bands0-7, chroma0-11 ...")
    target: str = _opt("", 'scene input, optionally with a component: "size", "center.x", '
                       '"tint.hue"')
    scale: float = _opt(1.0, "multiplier after the curve, in units of the input's range",
                        min=-100.0, max=100.0)
    offset: float = _opt(0.0, "added after scaling, in units of the input's range",
                         min=-100.0, max=100.0)
    curve: str = _opt("linear", "shape applied to the feature",
                      choices=("linear", "exp", "log", "smooth", "step"))
    attack_ms: float = _opt(0.0, "smoothing while the value rises", min=0.0, max=60000.0)
    release_ms: float = _opt(0.0, "smoothing while the value falls", min=0.0, max=60000.0)


@dataclass(frozen=True)
class SceneConfig:
    """One scene of the show's playlist (``[[visuals.scenes]]``)."""

    file: str = _opt("", "shader: a name in shaders/ (without .fs) or a path to .fs / .glsl")
    params: dict = _opt({}, "input values, e.g. { speed = 0.5, tint = [1, 0, 0, 1] }")
    map: list[MappingConfig] = _opt([], "feature → input mappings (replace the automatic ones)")


@dataclass(frozen=True)
class TransitionConfig:
    """How one scene gives way to the next."""

    kind: str = _opt("crossfade", 'crossfade, cut, or an ISF transition shader (name or path, '
                     'with startImage / endImage / progress)')
    duration: float = _opt(4.0, "length, in `unit`", min=0.0, max=600.0)
    unit: str = _opt("beats", "unit of duration", choices=("beats", "seconds"))
    quantize: str = _opt("beat", "start on the next beat or bar (none = at once)",
                         choices=("none", "beat", "bar"))


@dataclass(frozen=True)
class AutopilotConfig:
    """Changes scenes by itself, in time with the music."""

    enabled: bool = _opt(True, "let the autopilot change scenes")
    mode: str = _opt("no-repeat", "order: sequence, random, no-repeat (random, never the same "
                     "twice until all played)", choices=("sequence", "random", "no-repeat"))
    change_on: str = _opt("phrase", "boundary a change waits for",
                          choices=("beat", "bar", "phrase"))
    phrase_bars: int = _opt(16, "bars per phrase", choices=(4, 8, 16, 32))
    every: int = _opt(2, "change after this many beats / bars / phrases", min=1, max=1000)
    jitter: float = _opt(0.25, "random spread of `every` (0.25 = ±25 %)", min=0.0, max=0.9)
    on_drop: bool = _opt(True, "change at once on a detected drop")
    fallback_s: float = _opt(30.0, "change after this long when no beat is heard", min=1.0,
                             max=3600.0)
    seed: int = _opt(0, "random seed (0 = different every show)", min=0, max=2**31 - 1)


@dataclass(frozen=True)
class VisualsConfig:
    """Scenes, mappings, transitions and the autopilot."""

    scenes: list[SceneConfig] = _opt([], "the playlist (empty = every scene in shaders/)")
    shader_dirs: list[str] = _opt([], "extra folders searched for scene files")
    automap: bool = _opt(True, "give scenes that read no audio gentle automatic mappings")
    visual_latency_ms: float = _opt(
        40.0, "projector + display delay: predicted beats fire this much early", min=0.0,
        max=1000.0)
    hot_reload: bool = _opt(True, "reload a scene when its file changes")
    overlay: bool = _opt(False, "show the status overlay (fps, scene, bpm, beat) at start")
    intensity: float = _opt(1.0, "master intensity at start", min=0.0, max=1.0)
    transition: TransitionConfig = field(default_factory=TransitionConfig)
    autopilot: AutopilotConfig = field(default_factory=AutopilotConfig)


@dataclass(frozen=True)
class MixerConfig:
    """The adaptive mixer in the PA path (``[mixer]``): where it sits, its limits and targets.

    ``enabled``, ``mic_channel`` and ``output_channels`` are read by the engine only; the rest
    steer :class:`liveai.mixer.AdaptiveMixer`.
    """

    # where it sits (the engine)
    enabled: bool = _opt(False, "run the mixer chain in the duplex PA path (needs audio.duplex); "
                         "off: liveai never touches the PA signal beyond sanitising it")
    mic_channel: int = _opt(0, "1-based input channel of the room mic (0 = none: the chain "
                            "runs with the static gain and hand-set bands, nothing automatic)",
                            min=0, max=64)
    output_channels: list[int] = _opt([], "1-based output channels carrying the processed "
                                      "programme, one per audio.input_channels entry (empty = "
                                      "1, 2, ...)")
    # the chain
    n_bands: int = _opt(20, "EQ bands per channel (auto-EQ peaking bands)", min=16, max=32)
    ceiling_db: float = _opt(-1.0, "hard output ceiling, dBFS: no sample ever exceeds it",
                             min=-24.0, max=0.0)
    lookahead_ms: float = _opt(1.5, "limiter look-ahead (the chain's latency)", min=0.1, max=10.0)
    release_ms: float = _opt(80.0, "limiter release time constant", min=5.0, max=2000.0)
    smoothing_ms: float = _opt(20.0, "glide of every EQ/gain change", min=1.0, max=500.0)
    # auto-EQ
    auto_eq: bool = _opt(True, "correct the room response toward the target")
    target: str = _opt("flat", "target curve: flat, house (LF rise, HF fall) or file",
                       choices=("flat", "house", "file"))
    target_file: str = _opt("", "target for target = file: lines 'freq_hz gain_db'")
    freq_lo_hz: float = _opt(80.0, "lowest frequency the auto-EQ corrects", min=20.0, max=2000.0)
    freq_hi_hz: float = _opt(10000.0, "highest frequency the auto-EQ corrects", min=1000.0,
                             max=20000.0)
    max_boost_db: float = _opt(6.0, "largest boost of any band", min=0.0, max=12.0)
    max_cut_db: float = _opt(12.0, "largest cut of any band", min=0.0, max=24.0)
    max_rate_db_s: float = _opt(1.0, "fastest change of any band gain, dB per second", min=0.05,
                                max=20.0)
    min_coherence: float = _opt(0.2, "bands whose coherence (programme-explained share of the "
                                "mic) is below this are not corrected; the room model averages "
                                "over time, so its estimate holds down to about 0.2", min=0.05,
                                max=0.99)
    null_depth_db: float = _opt(6.0, "a dip this far below the 1-octave trend is a null: never "
                                "boosted", min=1.0, max=30.0)
    # crowd compensation
    crowd_comp: bool = _opt(True, "raise the gain to keep the music above the crowd")
    crowd_margin_db: float = _opt(10.0, "wanted music-over-crowd margin at the mic", min=0.0,
                                  max=40.0)
    crowd_max_gain_db: float = _opt(6.0, "most gain the crowd compensation may add", min=0.0,
                                    max=12.0)
    crowd_attack_db_s: float = _opt(0.5, "gain rise rate", min=0.01, max=10.0)
    crowd_release_db_s: float = _opt(0.25, "gain fall rate", min=0.01, max=10.0)
    gain_db: float = _opt(0.0, "static gain before crowd compensation", min=-20.0, max=12.0)
    # the room estimate
    room_model_s: float = _opt(1.5, "length of the room model: at least the hall's RT60", min=0.1,
                               max=4.0)
    max_delay_ms: float = _opt(300.0, "largest PA-to-mic delay searched (acoustic + I/O)",
                               min=0.0, max=500.0)
    adapt_step: float = _opt(1.0, "NLMS step of the room model (0..1)", min=0.01, max=1.0)
    average_s: float = _opt(2.0, "averaging of coherence and crowd spectra", min=0.2, max=30.0)
    update_s: float = _opt(0.5, "how often the EQ/gain targets are recomputed", min=0.05, max=10.0)
    ref_floor_db: float = _opt(-70.0, "reference level below which nothing is learned", min=-120.0,
                               max=-20.0)
    profile: str = _opt("auto", "room profile from `liveai measure` the live estimate starts "
                        "from (its delay): a path, auto = ~/.config/liveai/room/room_profile.json "
                        "when there is one, none = find the delay from the music")
    # what the engineer sees
    view_port: int = _opt(0, "serve the mixer's live view on http://127.0.0.1:PORT/mixer "
                          "(0 = off)", min=0, max=65535)

    def __post_init__(self) -> None:
        self.validate("mixer")

    @classmethod
    def from_table(cls, table: dict, where: str = "[mixer]") -> MixerConfig:
        """Build from a TOML table, naming unknown keys and bad values."""
        names = {f.name for f in dataclasses.fields(cls)}
        for key in table:
            if key not in names:
                raise ConfigError(f"{where}: unknown key {key!r}")
        try:
            return cls(**table)
        except TypeError as exc:
            raise ConfigError(f"{where}: {exc}") from exc

    def validate(self, where: str) -> None:
        """Check every field's type and range, then the constraints that span fields."""
        self._validate_engine(where)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            meta = f.metadata
            default = f.default
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"{where}.{f.name} = {value!r}: expected true or false")
                continue
            if isinstance(default, (int, float)):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ConfigError(f"{where}.{f.name} = {value!r}: expected a number")
                if isinstance(default, int) and not isinstance(value, int):
                    raise ConfigError(f"{where}.{f.name} = {value!r}: expected an integer")
                if not math.isfinite(value):
                    raise ConfigError(f"{where}.{f.name} = {value!r}: not a finite number")
                if "min" in meta and value < meta["min"]:
                    raise ConfigError(f"{where}.{f.name} = {value!r}: below the minimum "
                                      f"{meta['min']}")
                if "max" in meta and value > meta["max"]:
                    raise ConfigError(f"{where}.{f.name} = {value!r}: above the maximum "
                                      f"{meta['max']}")
            if "choices" in meta and value not in meta["choices"]:
                raise ConfigError(f"{where}.{f.name} = {value!r}: choose one of "
                                  f"{', '.join(meta['choices'])}")
        if self.freq_lo_hz * 2 > self.freq_hi_hz:
            raise ConfigError(f"{where}: freq_lo_hz = {self.freq_lo_hz} must be at least an octave "
                              f"below freq_hi_hz = {self.freq_hi_hz}")
        if self.target == "file" and not self.target_file:
            raise ConfigError(f"{where}: target = 'file' needs target_file")

    def _validate_engine(self, where: str) -> None:
        for ch in self.output_channels:
            if not isinstance(ch, int) or isinstance(ch, bool) or not 1 <= ch <= 64:
                raise ConfigError(f"{where}.output_channels = {self.output_channels!r}: channel "
                                  f"{ch!r} is not a channel number between 1 and 64")
        if len(set(self.output_channels)) != len(self.output_channels):
            raise ConfigError(f"{where}.output_channels = {self.output_channels!r} lists a "
                              "channel twice")


@dataclass(frozen=True)
class ShowConfig:
    """A whole show, as stored in one preset file."""

    name: str = _opt("untitled", "show name")
    description: str = _opt("", "what this preset is for")
    audio: AudioConfig = field(default_factory=AudioConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    osc_out: OscOutConfig = field(default_factory=OscOutConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
    visuals: VisualsConfig = field(default_factory=VisualsConfig)
    mixer: MixerConfig = field(default_factory=MixerConfig)
    midi: MidiConfig = field(default_factory=MidiConfig)
    link: LinkConfig = field(default_factory=LinkConfig)

    def validate(self, where: str) -> None:
        """Check every section's cross-field constraints."""
        self.midi.validate(where)
        self.audio.validate(where)
        self.analysis.validate(where)
        self.projector.validate(where)
        self.osc_out.validate(where)
        self.control.validate(where)
        m = self.mixer
        if not m.enabled:
            return
        chans = self.audio.input_channels
        if not self.audio.duplex:
            raise ConfigError(f"{where}: mixer.enabled = true needs audio.duplex = true (the "
                              "mixer sits between the input and the PA output)")
        if m.mic_channel in chans:
            raise ConfigError(f"{where}: mixer.mic_channel = {m.mic_channel} is also one of "
                              f"audio.input_channels = {chans}: the mic needs its own channel")
        if m.output_channels and len(m.output_channels) != len(chans):
            raise ConfigError(f"{where}: mixer.output_channels = {m.output_channels} should "
                              f"name one output per audio.input_channels entry ({len(chans)})")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        (inner,) = typing.get_args(tp)
        return "a list of " + {int: "integers", str: "strings", float: "numbers"}.get(
            inner, str(inner))
    return {bool: "true/false", int: "an integer", float: "a finite number",
            str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _check_value(tp: Any, value: Any) -> Any:
    """Return ``value`` coerced to ``tp`` or raise TypeError (ints are accepted for floats)."""
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif typing.get_origin(tp) is list:
        (inner,) = typing.get_args(tp)
        if isinstance(value, list):
            return [_check_value(inner, v) for v in value]
    raise TypeError


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def build(cls: type, table: Any, where: str, prefix: str = "") -> Any:
    """Build the frozen dataclass ``cls`` from a TOML table, checking every key.

    Parameters
    ----------
    cls : type
        A frozen dataclass of this module.
    table : dict
        The parsed TOML table.
    where : str
        The file the table came from, for error messages.
    prefix : str
        Dotted path of the table inside the file (``"audio."``).

    Raises
    ------
    ConfigError
        For an unknown key, a wrong type or a value out of range, naming file, key and value.
    """
    if not isinstance(table, dict):
        raise ConfigError(
            f"{where}: {prefix.rstrip('.') or 'the file'} = {_fmt(table)} should be a table "
            f"([{prefix.rstrip('.')}])"
        )
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ConfigError(
                f"{where}: unknown key '{prefix}{key}'{hint}; known keys: "
                + ", ".join(prefix + k for k in fields)
            )
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = build(tp, value, where, f"{prefix}{key}.")
            continue
        inner = typing.get_args(tp)
        if typing.get_origin(tp) is list and inner and dataclasses.is_dataclass(inner[0]):
            if not isinstance(value, list):
                raise ConfigError(f"{where}: {prefix}{key} should be a list of tables "
                                  f"([[{prefix}{key}]])")
            kwargs[key] = [inner[0].from_text(v) if isinstance(v, str)
                           and hasattr(inner[0], "from_text")
                           else build(inner[0], v, where, f"{prefix}{key}[{i}].")
                           for i, v in enumerate(value)]
            continue
        if tp is dict:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {prefix}{key} = {_fmt(value)} should be a table "
                                  "such as { name = 1.0 }")
            for k, v in value.items():
                ok = isinstance(v, (bool, int, float, str)) or (
                    isinstance(v, list) and all(isinstance(x, (int, float)) for x in v))
                if not ok or (isinstance(v, float) and not math.isfinite(v)):
                    raise ConfigError(f"{where}: {prefix}{key}.{k} = {_fmt(v)}: a value must be "
                                      "a number, true/false, a string or a list of numbers")
            kwargs[key] = dict(value)
            continue
        if isinstance(tp, types.UnionType):  # pragma: no cover - no optional fields yet
            tp = typing.get_args(tp)[0]
        try:
            coerced = _check_value(tp, value)
        except TypeError:
            raise ConfigError(
                f"{where}: {prefix}{key} = {_fmt(value)} has the wrong type; "
                f"expected {_type_name(tp)}"
            ) from None
        meta = fields[key].metadata
        if "choices" in meta and coerced not in meta["choices"]:
            hint = (_did_you_mean(coerced, [str(c) for c in meta["choices"]])
                    if isinstance(coerced, str) else "")
            raise ConfigError(
                f"{where}: {prefix}{key} = {_fmt(value)} is not one of "
                + ", ".join(_fmt(c) for c in meta["choices"]) + hint
            )
        lo, hi = meta.get("min"), meta.get("max")
        if (lo is not None and coerced < lo) or (hi is not None and coerced > hi):
            raise ConfigError(
                f"{where}: {prefix}{key} = {_fmt(value)} is out of range ({lo} to {hi})"
            )
        kwargs[key] = coerced
    try:
        return cls(**kwargs)
    except ConfigError as exc:  # a cross-field check in __post_init__ (MixerConfig)
        raise ConfigError(f"{where}: {exc}") from None


def preset_search_dirs() -> list[Path]:
    """Folders searched for a preset given by name: ``./presets``, then liveai's own."""
    dirs = [Path.cwd() / "presets", PACKAGED_PRESETS_DIR]
    unique: list[Path] = []
    for d in dirs:
        if d.resolve() not in [u.resolve() for u in unique]:
            unique.append(d)
    return unique


def resolve_preset(name_or_path: str) -> Path:
    """Find a preset by path or by name.

    Raises
    ------
    ConfigError
        When nothing matches; the message lists the folders searched and the presets found there.
    """
    path = Path(name_or_path).expanduser()
    if path.suffix == ".toml" or "/" in name_or_path:
        if path.is_file():
            return path
        raise ConfigError(f"{name_or_path}: preset file not found")
    for folder in preset_search_dirs():
        candidate = folder / f"{name_or_path}.toml"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for d in preset_search_dirs() if d.is_dir() for p in d.glob("*.toml")})
    raise ConfigError(
        f"{name_or_path}: no such preset (looked in "
        + ", ".join(str(d) for d in preset_search_dirs())
        + "); available: "
        + (", ".join(known) or "none")
    )


def load_show(name_or_path: str = DEFAULT_PRESET) -> tuple[ShowConfig, Path]:
    """Load and check a show preset.

    Parameters
    ----------
    name_or_path : str
        A preset name (``default``) or a path to a ``.toml`` file.

    Returns
    -------
    config : ShowConfig
    path : pathlib.Path
        The file it came from.

    Raises
    ------
    ConfigError
        One line naming the file, the key and the bad value.
    """
    path = resolve_preset(name_or_path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read preset: {exc}") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: TOML syntax error: {exc}") from None
    config = build(ShowConfig, table, where)
    config.validate(where)
    return config, path


def describe(cls: type = ShowConfig, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """List ``(key, default, allowed, doc)`` for every setting, for the README and ``--help``."""
    rows: list[tuple[str, str, str, str]] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            rows.extend(describe(hints[f.name], f"{prefix}{f.name}."))
            continue
        inner = typing.get_args(hints[f.name])
        if inner and dataclasses.is_dataclass(inner[0]):
            rows.append((prefix + f.name, "[]", "list of tables", f.metadata.get("doc", "")))
            rows.extend(describe(inner[0], f"{prefix}{f.name}[]."))
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        meta = f.metadata
        if "choices" in meta:
            allowed = ", ".join(_fmt(c) for c in meta["choices"])
        elif "min" in meta:
            allowed = f"{meta['min']} to {meta['max']}"
        else:
            allowed = _type_name(hints[f.name])
        rows.append((prefix + f.name, _fmt(default), allowed, meta.get("doc", "")))
    return rows


def settings_markdown() -> str:
    """The README's table of every preset setting (a test keeps the README in step)."""
    lines = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    lines += [f"| `{k}` | `{d}` | {a} | {doc} |" for k, d, a, doc in describe()]
    return "\n".join(lines)
