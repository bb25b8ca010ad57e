"""Features out over OSC: beats as they fire, levels and tempo at a steady rate.

A sender thread polls the engine's shared record (it never slows the analysis): event counters
that moved are sent at once (about every 5 ms), continuous values at ``rate_hz``.

Addresses (all under ``/liveai``):

============================  =====================================================
``/liveai/beat``              i beat count, i beat in bar (−1 unknown), f bpm
``/liveai/downbeat``          i bar count
``/liveai/onset/{low,mid,high}``  f strength 0..1 (and ``/liveai/onset`` for any hit)
``/liveai/bpm``               f tempo (0 until known)
``/liveai/confidence``        f 0..1
``/liveai/level``             f 0..1
``/liveai/bands``             f × 8 band levels 0..1
``/liveai/phase``             f beat phase 0..1, f bar phase 0..1
``/liveai/section``           s section (breakdown, groove, build, drop), i section code (0-4)
                              — sent when it changes (a drop is the moment to hit the lights)
``/liveai/energy``            f 0..1, the last second against the usual level
``/liveai/crowd``             f 0..1 (0 = 40 dB under the music .. 1 = as loud), f dBFS at
                              the room mic — while the adaptive mixer hears a room mic
============================  =====================================================

A target may instead use a desk's **template** (:mod:`liveai.osc_templates`: grandMA3, ETC Eos,
ChamSys, QLC+, Resolume, or a custom map): one value per address, scaled into the desk's range,
and events as a key press then, ``release_ms`` later, a release. Releases are kept in a small
table and sent by the same thread when due, so nothing waits.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable

import numpy as np
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import UDPClient

from liveai.config import OscTargetConfig, split_host_port
from liveai.errors import ConfigError
from liveai.frame import SECTION_NAMES, SharedRecord, new_frame
from liveai.log import RateLimitedLogger
from liveai.osc_templates import Route, routes

log = logging.getLogger(__name__)

BAND_ONSET_ADDRESSES = ("/liveai/onset/low", "/liveai/onset/mid", "/liveai/onset/high")
EVENT_POLL_S = 0.005
BAND_EVENTS = ("onset_low", "onset_mid", "onset_high")


def parse_target(text: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[v6]:port"`` → ``(host, port)`` (checked by the config already).

    Raises
    ------
    ConfigError
        For a malformed target (a caller that skipped the config's check).
    """
    found = split_host_port(text)
    if found is None:
        raise ConfigError(f'OSC target "{text}" should look like "127.0.0.1:9000"')
    return found


def _message(address: str, *args: object) -> OscMessage:
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build()


class _Target:
    """One destination: its socket and, for a desk template, its routes by feature."""

    def __init__(self, spec: str | OscTargetConfig) -> None:
        if isinstance(spec, str):
            spec = OscTargetConfig(address=spec)
        self.spec = spec
        self.host, self.port = parse_target(spec.address)
        self.client = UDPClient(self.host, self.port)
        self.native = spec.template == "liveai"
        self.release_s = spec.release_ms / 1000.0
        self.routes: dict[str, list[Route]] = {}
        if not self.native:
            for r in routes(spec.template, spec.prefix, spec.map, spec.scale, spec.range):
                self.routes.setdefault(r.feature, []).append(r)

    def __str__(self) -> str:
        kind = "" if self.native else f" ({self.spec.template})"
        return f"{self.host}:{self.port}{kind}"


class FeatureSender:
    """Sends the engine's features to OSC targets from its own thread.

    Parameters
    ----------
    record : SharedRecord
        The engine's record (read like any projector reads it).
    targets : list of str or OscTargetConfig
        ``host:port`` (the native ``/liveai`` tree) or a target with a desk template.
    rate_hz : float
        Rate of the continuous values; events go out as they happen.
    crowd : callable, optional
        Returns ``(crowd_level_db, music_level_db)`` at the room mic (the adaptive mixer's
        estimates), or None while there is no estimate; ``/liveai/crowd`` is sent only then.
    """

    def __init__(self, record: SharedRecord, targets: list[str | OscTargetConfig],
                 rate_hz: float = 30.0,
                 crowd: Callable[[], tuple[float, float] | None] | None = None) -> None:
        self.record = record
        self.crowd = crowd
        try:
            self.targets = [_Target(t) for t in targets]
        except OSError as exc:  # an unknown host name
            raise ConfigError(f"OSC targets {targets}: {exc}") from None
        self.addresses = [(t.host, t.port) for t in self.targets]
        self.rate_hz = float(rate_hz)
        self.sent = 0
        self.errors = 0
        #: (id of the target, address) → (due monotonic s, release message, target): pending
        #: key releases (by identity: the native targets may be replaced while they wait)
        self._releases: dict[tuple[int, str], tuple[float, OscMessage, _Target]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rl = RateLimitedLogger(log)

    def set_native_targets(self, text: str,
                           allowed: Callable[[str], bool] | None = None) -> list[str]:
        """Replace the ``/liveai``-tree targets with ``"host:port, host:port"`` (live).

        Desk-template targets stay. Only IP addresses are taken (a name would make the caller,
        a parameter listener, wait on a lookup), and only those ``allowed`` says yes to: a packet
        must not aim liveai's stream at an arbitrary host. Other entries are left out.

        Returns
        -------
        list of str
            What was wrong with each entry left out (empty when all were taken).
        """
        natives, problems = [], []
        for item in (t.strip() for t in text.split(",")):
            if not item:
                continue
            try:
                host, _port = parse_target(item)
                ipaddress.ip_address(host)
            except (ConfigError, ValueError):
                problems.append(f'{item}: not "IP address:port"')
                continue
            if allowed is not None and not allowed(host):
                problems.append(f"{item}: not in control.allow")
                continue
            try:
                natives.append(_Target(item))
            except (ConfigError, OSError) as exc:
                problems.append(f"{item}: {exc}")
        # one reference swap: the sender thread sees the old list or the new one
        self.targets = [t for t in self.targets if not t.native] + natives
        self.addresses = [(t.host, t.port) for t in self.targets]
        return problems

    def start(self) -> None:
        """Start the sender thread."""
        self._thread = threading.Thread(target=self._run, name="liveai-osc-out", daemon=True)
        self._thread.start()
        log.info("sending features over OSC to %s at %g Hz",
                 ", ".join(str(t) for t in self.targets), self.rate_hz)

    def stop(self) -> None:
        """Stop the sender thread (pending key releases are sent first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def _send_one(self, target: _Target, message: OscMessage) -> None:
        try:
            target.client.send(message)
            self.sent += 1
        except OSError as exc:  # an unreachable tablet must not stop the others
            self.errors += 1
            self._rl.warning(f"osc{target.host}:{target.port}", "cannot send OSC to %s:%d: %s",
                             target.host, target.port, exc)

    def _send(self, message: OscMessage) -> None:
        """Send a native ``/liveai`` message to every target using that tree."""
        for target in self.targets:
            if target.native:
                self._send_one(target, message)

    def _event(self, feature: str, now: float) -> None:
        """An event fired: press every key address mapped to it, schedule the releases."""
        for target in self.targets:
            for r in target.routes.get(feature, ()):
                key = (id(target), r.address)
                pending = self._releases.pop(key, None)
                if pending is not None:  # still held: release first so the desk sees a new press
                    self._send_one(target, pending[1])
                self._send_one(target, _message(r.address, r.press))
                self._releases[key] = (now + target.release_s, _message(r.address, r.release),
                                       target)

    def _values(self, values: dict[str, float]) -> None:
        for target in self.targets:
            for feature, rs in target.routes.items():
                if feature in values:
                    for r in rs:
                        self._send_one(target, _message(r.address, r.value(values[feature])))

    def _section(self, code: int) -> None:
        for target in self.targets:
            for r in target.routes.get("section", ()):
                self._send_one(target, _message(r.address, SECTION_NAMES[code], code))

    def _due_releases(self, now: float, flush: bool = False) -> None:
        for key, (due, message, target) in list(self._releases.items()):
            if flush or now >= due:
                del self._releases[key]
                self._send_one(target, message)

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._due_releases(0.0, flush=True)  # never leave a desk key held down

    def _loop(self) -> None:
        frame = new_frame()
        last = {"beat": 0, "bar": 0, "onset": 0, "bands": [0, 0, 0], "section": 0}
        next_state = 0.0
        templated = any(not t.native for t in self.targets)
        while not self._stop.wait(EVENT_POLL_S):
            now = time.monotonic()
            if self._releases:
                self._due_releases(now)
            if self.record.read(frame) < 0:
                continue
            beat, bar = int(frame["beat_count"]), int(frame["bar_count"])
            if beat != last["beat"]:
                last["beat"] = beat
                self._send(_message("/liveai/beat", beat, int(frame["beat_in_bar"]),
                                    float(frame["tempo_bpm"])))
                self._event("beat", now)
            if bar != last["bar"]:
                last["bar"] = bar
                self._send(_message("/liveai/downbeat", bar))
                self._event("downbeat", now)
            if int(frame["onset_count"]) != last["onset"]:
                last["onset"] = int(frame["onset_count"])
                self._send(_message("/liveai/onset", float(frame["onset_strength"])))
                self._event("onset", now)
            for b in range(3):
                count = int(frame["band_onset_count"][b])
                if count != last["bands"][b]:
                    last["bands"][b] = count
                    self._send(_message(BAND_ONSET_ADDRESSES[b],
                                        float(frame["band_onset_strength"][b])))
                    self._event(BAND_EVENTS[b], now)
            if int(frame["section_count"]) != last["section"]:
                last["section"] = int(frame["section_count"])
                code = int(frame["section"])
                self._send(_message("/liveai/section", SECTION_NAMES[code], code))
                self._section(code)
                if SECTION_NAMES[code] == "drop":
                    self._event("drop", now)
            if now >= next_state:
                next_state = now + 1.0 / self.rate_hz
                self._send(_message("/liveai/bpm", float(frame["tempo_bpm"])))
                self._send(_message("/liveai/confidence", float(frame["tempo_confidence"])))
                self._send(_message("/liveai/level", float(frame["level"])))
                self._send(_message("/liveai/bands",
                                    *(float(v) for v in frame["band_level"])))
                self._send(_message("/liveai/phase", float(frame["beat_phase"]),
                                    float(frame["bar_phase"])))
                self._send(_message("/liveai/energy", float(frame["energy"])))
                values = _value_features(frame)
                crowd = self.crowd() if self.crowd is not None else None
                if crowd is not None:
                    values["crowd"] = crowd_norm(*crowd)
                    self._send(_message("/liveai/crowd", values["crowd"], float(crowd[0])))
                if templated:
                    self._values(values)


def crowd_norm(crowd_level_db: float, music_level_db: float) -> float:
    """The crowd against the music at the room mic: 0 = 40 dB under it .. 1 = as loud."""
    return min(max((crowd_level_db - music_level_db + 40.0) / 40.0, 0.0), 1.0)


def _value_features(frame: np.ndarray) -> dict[str, float]:
    values = {"bpm": float(frame["tempo_bpm"]), "confidence": float(frame["tempo_confidence"]),
              "level": float(frame["level"]), "energy": float(frame["energy"]),
              "beat_phase": float(frame["beat_phase"]), "bar_phase": float(frame["bar_phase"])}
    for i, v in enumerate(frame["band_level"][:8]):
        values[f"band{i + 1}"] = float(v)
    return values
