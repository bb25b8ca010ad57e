"""Finding audio devices by name, and PulseAudio/PipeWire sources such as monitors.

PortAudio sees ALSA, JACK and OSS devices. The sources of a PulseAudio or PipeWire server (its
microphones and the *monitor* of every output, i.e. "what the computer is playing") are not
PortAudio devices; liveai lists them with ``pactl`` and opens one by connecting PortAudio's
ALSA ``pulse`` (or ``pipewire``) device with ``PULSE_SOURCE`` naming the source.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import sounddevice as sd

from liveai.errors import DeviceError

log = logging.getLogger(__name__)

#: ALSA devices that route into a PulseAudio/PipeWire server, in order of preference.
PULSE_BRIDGES = ("pulse", "pipewire", "default")


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device, or one PulseAudio/PipeWire source reached through a bridge."""

    index: int  # PortAudio index (the bridge's index for a pulse source)
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate_hz: float
    is_default_input: bool = False
    is_default_output: bool = False
    pulse_source: str = ""  # set for PulseAudio/PipeWire sources
    is_monitor: bool = False

    @property
    def label(self) -> str:
        """Short text naming the device for logs and the device list."""
        if self.pulse_source:
            kind = "monitor of an output" if self.is_monitor else "input"
            return f"{self.name} (PulseAudio/PipeWire {kind})"
        return f"{self.name} ({self.hostapi})"


def _jack_server_identity() -> tuple[int, int] | None:
    """Identity (inode, ctime) of the JACK server this process would talk to, or None."""
    name = os.environ.get("JACK_DEFAULT_SERVER", "default")
    for folder in ("/dev/shm", "/tmp"):
        try:
            st = os.stat(f"{folder}/jack_{name}_{os.getuid()}_0")
        except OSError:
            continue
        return (st.st_ino, st.st_ctime_ns)
    return None


def _has_jack_hostapi() -> bool:
    return any("JACK" in api["name"] for api in sd.query_hostapis())


# The JACK server PortAudio's current instance connected to when it initialised (None: none).
_jack_at_init = _jack_server_identity() if _has_jack_hostapi() else None
_abandoned: list[object] = []  # PortAudio instances left behind, never terminated


def jack_server_gone() -> bool:
    """True when the JACK server PortAudio's current instance connected to has died."""
    return _jack_at_init is not None and _jack_server_identity() != _jack_at_init


def _fresh_portaudio():
    """Load a private copy of the PortAudio library (a new instance with its own state)."""
    path = None
    with open("/proc/self/maps", encoding="utf-8") as maps:
        for line in maps:
            if "libportaudio" in line:
                path = line.split()[-1]
                break
    if path is None:
        raise OSError("cannot locate the loaded PortAudio library")
    fd, copy = tempfile.mkstemp(prefix="liveai-portaudio-", suffix=".so")
    os.close(fd)
    try:
        shutil.copyfile(path, copy)
        return sd._ffi.dlopen(copy)
    finally:
        os.unlink(copy)  # the mapping stays valid


def refresh() -> None:
    """Re-scan devices: PortAudio only sees servers and cards present when it initialises.

    When the JACK server PortAudio was connected to has died, terminating PortAudio would abort
    the whole process (its JACK host API asserts that closing the client succeeds). In that case
    the old instance is left alone and a fresh copy of the library takes over.
    """
    global _jack_at_init
    if jack_server_gone():
        log.info("JACK server went away: starting a fresh PortAudio instance")
        _abandoned.append(sd._lib)
        sd._last_callback = None  # belongs to the old instance
        sd._lib = _fresh_portaudio()
        sd._initialized = 0
        sd._initialize()
    else:
        # sounddevice has no public re-scan; terminate + initialize is its documented pattern.
        sd._terminate()
        sd._initialize()
    _jack_at_init = _jack_server_identity() if _has_jack_hostapi() else None


def _exit_handler() -> None:
    """Sounddevice's exit handler, skipped when it would abort on a dead JACK server."""
    if jack_server_gone():
        return
    sd._exit_handler()


atexit.unregister(sd._exit_handler)
atexit.register(_exit_handler)


def list_devices() -> list[DeviceInfo]:
    """Return every PortAudio device."""
    hostapis = sd.query_hostapis()
    try:
        default_in, default_out = sd.default.device
    except Exception:  # pragma: no cover - sounddevice raises on odd defaults
        default_in = default_out = -1
    out = []
    for dev in sd.query_devices():
        api = hostapis[dev["hostapi"]]
        out.append(
            DeviceInfo(
                index=dev["index"],
                name=dev["name"],
                hostapi=api["name"],
                max_input_channels=dev["max_input_channels"],
                max_output_channels=dev["max_output_channels"],
                default_sample_rate_hz=float(dev["default_samplerate"]),
                is_default_input=dev["index"] == api.get("default_input_device", -2)
                or dev["index"] == default_in,
                is_default_output=dev["index"] == api.get("default_output_device", -2)
                or dev["index"] == default_out,
            )
        )
    return out


def list_pulse_sources(timeout_s: float = 2.0) -> list[tuple[str, str, bool]]:
    """List PulseAudio/PipeWire sources as ``(name, description, is_monitor)``.

    Returns an empty list when ``pactl`` is missing or no server answers.
    """
    pactl = shutil.which("pactl")
    if pactl is None:
        return []
    try:
        proc = subprocess.run(
            [pactl, "list", "short", "sources"],
            capture_output=True, text=True, timeout=timeout_s, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if proc.returncode != 0:
        return []
    sources = []
    for line in proc.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            name = parts[1]
            sources.append((name, name, name.endswith(".monitor")))
    return sources


def _pulse_bridge(devices: list[DeviceInfo]) -> DeviceInfo | None:
    for bridge in PULSE_BRIDGES:
        for d in devices:
            if d.name == bridge and d.max_input_channels > 0:
                return d
    return None


def pulse_devices(devices: list[DeviceInfo] | None = None) -> list[DeviceInfo]:
    """PulseAudio/PipeWire sources, each as a DeviceInfo routed through the ALSA bridge."""
    devices = list_devices() if devices is None else devices
    bridge = _pulse_bridge(devices)
    if bridge is None:
        return []
    return [
        DeviceInfo(
            index=bridge.index,
            name=name,
            hostapi=bridge.hostapi,
            max_input_channels=2,
            max_output_channels=0,
            default_sample_rate_hz=bridge.default_sample_rate_hz,
            pulse_source=name,
            is_monitor=monitor,
        )
        for name, _, monitor in list_pulse_sources()
    ]


def find_device(spec: str, kind: str = "input") -> DeviceInfo:
    """Choose a device by index or by a case-insensitive name substring.

    Parameters
    ----------
    spec : str
        ``""`` for the system default, a PortAudio index (``"3"``), or part of a device name
        (``"Scarlett"``, ``"system"``, ``"monitor"``); PulseAudio/PipeWire sources are searched
        after PortAudio's devices, for inputs.
    kind : {"input", "output"}
        Which direction the device must support.

    Raises
    ------
    DeviceError
        When nothing matches or several devices match equally; the message lists the candidates.
    """
    devices = list_devices()
    channel_key = "max_input_channels" if kind == "input" else "max_output_channels"
    usable = [d for d in devices if getattr(d, channel_key) > 0]
    if not spec:
        default = [d for d in usable if (d.is_default_input if kind == "input"
                                          else d.is_default_output)]
        if default:
            return default[0]
        if usable:
            return usable[0]
        raise DeviceError(
            f"no audio {kind} device found. Start JACK, PulseAudio or PipeWire, or connect an "
            "audio interface; 'liveai devices' shows what this machine has."
        )
    if spec.strip().lstrip("-").isdigit():
        idx = int(spec)
        for d in usable:
            if d.index == idx:
                return d
        raise DeviceError(
            f"audio {kind} device index {idx} does not exist or has no {kind} channels; "
            "run 'liveai devices' for the list"
        )
    needle = spec.lower()
    matches = [d for d in usable if needle in d.name.lower()]
    if kind == "input":
        matches += [d for d in pulse_devices(devices) if needle in d.name.lower()]
    if not matches:
        names = ", ".join(f"'{d.name}'" for d in usable) or "none"
        raise DeviceError(
            f"no audio {kind} device matches '{spec}'. Available {kind}s: {names}. "
            "Run 'liveai devices' for details"
        )
    exact = [d for d in matches if d.name.lower() == needle]
    if exact:
        return exact[0]
    if len(matches) > 1:
        names = ", ".join(f"'{d.name}'" for d in matches)
        raise DeviceError(
            f"'{spec}' matches several audio {kind} devices: {names}; give more of the name "
            "or an index"
        )
    return matches[0]


@contextlib.contextmanager
def pulse_source_env(device: DeviceInfo):
    """Point the ALSA→PulseAudio bridge at ``device.pulse_source`` while a stream opens."""
    if not device.pulse_source:
        yield
        return
    old = os.environ.get("PULSE_SOURCE")
    os.environ["PULSE_SOURCE"] = device.pulse_source
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PULSE_SOURCE", None)
        else:
            os.environ["PULSE_SOURCE"] = old
