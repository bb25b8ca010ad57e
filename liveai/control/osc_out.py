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
============================  =====================================================
"""

from __future__ import annotations

import logging
import threading
import time

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import UDPClient

from liveai.errors import ConfigError
from liveai.frame import SECTION_NAMES, SharedRecord, new_frame
from liveai.log import RateLimitedLogger

log = logging.getLogger(__name__)

BAND_ONSET_ADDRESSES = ("/liveai/onset/low", "/liveai/onset/mid", "/liveai/onset/high")
EVENT_POLL_S = 0.005


def parse_target(text: str) -> tuple[str, int]:
    """``"host:port"`` → ``(host, port)`` (checked by the config already)."""
    host, _, port = text.rpartition(":")
    return host, int(port)


def _message(address: str, *args: object) -> OscMessage:
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build()


class FeatureSender:
    """Sends the engine's features to OSC targets from its own thread.

    Parameters
    ----------
    record : SharedRecord
        The engine's record (read like any projector reads it).
    targets : list of str
        ``host:port`` each.
    rate_hz : float
        Rate of the continuous values; events go out as they happen.
    """

    def __init__(self, record: SharedRecord, targets: list[str], rate_hz: float = 30.0) -> None:
        self.record = record
        self.addresses = [parse_target(t) for t in targets]
        try:
            self.clients = [UDPClient(h, p) for h, p in self.addresses]
        except OSError as exc:  # an unknown host name
            raise ConfigError(f"OSC targets {targets}: {exc}") from None
        self.rate_hz = float(rate_hz)
        self.sent = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rl = RateLimitedLogger(log)

    def start(self) -> None:
        """Start the sender thread."""
        self._thread = threading.Thread(target=self._run, name="liveai-osc-out", daemon=True)
        self._thread.start()
        log.info("sending features over OSC to %s at %g Hz",
                 ", ".join(f"{h}:{p}" for h, p in self.addresses), self.rate_hz)

    def stop(self) -> None:
        """Stop the sender thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def _send(self, message: OscMessage) -> None:
        for client, (host, port) in zip(self.clients, self.addresses, strict=True):
            try:
                client.send(message)
                self.sent += 1
            except OSError as exc:  # an unreachable tablet must not stop the others
                self.errors += 1
                self._rl.warning(f"osc{host}:{port}", "cannot send OSC to %s:%d: %s", host,
                                 port, exc)

    def _run(self) -> None:
        frame = new_frame()
        last = {"beat": 0, "bar": 0, "onset": 0, "bands": [0, 0, 0], "section": 0}
        next_state = 0.0
        while not self._stop.wait(EVENT_POLL_S):
            if self.record.read(frame) < 0:
                continue
            beat, bar = int(frame["beat_count"]), int(frame["bar_count"])
            if beat != last["beat"]:
                last["beat"] = beat
                self._send(_message("/liveai/beat", beat, int(frame["beat_in_bar"]),
                                    float(frame["tempo_bpm"])))
            if bar != last["bar"]:
                last["bar"] = bar
                self._send(_message("/liveai/downbeat", bar))
            if int(frame["onset_count"]) != last["onset"]:
                last["onset"] = int(frame["onset_count"])
                self._send(_message("/liveai/onset", float(frame["onset_strength"])))
            for b in range(3):
                count = int(frame["band_onset_count"][b])
                if count != last["bands"][b]:
                    last["bands"][b] = count
                    self._send(_message(BAND_ONSET_ADDRESSES[b],
                                        float(frame["band_onset_strength"][b])))
            if int(frame["section_count"]) != last["section"]:
                last["section"] = int(frame["section_count"])
                code = int(frame["section"])
                self._send(_message("/liveai/section", SECTION_NAMES[code], code))
            now = time.monotonic()
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
