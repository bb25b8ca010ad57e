"""Ableton Link (aalink): share tempo and beat phase with other apps on the network.

One thread looks after the Link session every few milliseconds:

- ``/liveai/link/enabled`` joins or leaves the session (seeded from ``[link] enabled``);
- mode ``follow``: while other peers are in the session (from a second after the first one
  appeared, while the sessions merge), Link's tempo and beat position go to
  an :class:`~liveai.control.clock.ExternalClock` that the analysis thread hands to the beat
  tracker (alone in a session, liveai keeps listening to the music: Link would only echo
  its own start tempo back);
- mode ``lead``: the engine's detected tempo is published to the session, and its beats are
  forced onto the session's beat phase when they drift apart by more than
  :data:`LEAD_PHASE_TOLERANCE_BEATS` (at most every :data:`LEAD_FORCE_INTERVAL_S`);
- ``/liveai/link/peers`` and ``/liveai/link/bpm`` show the session (read-only).

Link discovers peers by UDP multicast on 224.76.78.75:20808; on a machine whose only network is
loopback the kernel needs a multicast route there (``ip route add 224.0.0.0/4 dev lo``).

aalink is built for asyncio; liveai keeps a private event loop that never runs (the session's
tempo, beat and phase are read synchronously; no callbacks are used).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from typing import Any

from liveai.config import LinkConfig
from liveai.control.clock import EngineBeats, ExternalClock
from liveai.log import RateLimitedLogger
from liveai.params import ROOT, ParameterStore

log = logging.getLogger(__name__)

ENABLED = ROOT + "/link/enabled"
MODE = ROOT + "/link/mode"
QUANTUM = ROOT + "/link/quantum"
PEERS = ROOT + "/link/peers"
BPM = ROOT + "/link/bpm"

#: How often the session is looked after (s).
POLL_S = 0.005
#: How often ``/liveai/link/enabled`` is looked at while Link is off (s).
IDLE_POLL_S = 0.05
#: In lead mode, the session's tempo follows liveai's once they differ by this much (BPM).
LEAD_TEMPO_STEP_BPM = 0.05
#: In lead mode, the session's phase is moved onto liveai's beats past this error (beats).
LEAD_PHASE_TOLERANCE_BEATS = 0.08
#: ... but not more often than this (s): the tracker's phase wobbles a little from hop to hop.
LEAD_FORCE_INTERVAL_S = 2.0
#: In follow mode, a session is followed only this long after another peer appeared (s): while
#: two sessions merge, Link still reports liveai's own start tempo for a moment.
FOLLOW_SETTLE_S = 1.0
#: Link's tempo range.
MIN_BPM, MAX_BPM = 20.0, 999.0


def _aalink() -> Any:
    import aalink  # imported here: liveai runs without Link when aalink cannot load

    return aalink


class LinkSession:
    """Takes part in an Ableton Link session (see the module docstring).

    Parameters
    ----------
    store : ParameterStore
    config : LinkConfig
    beats : EngineBeats, optional
        The engine's beats, published in ``lead`` mode.
    start_bpm : float
        The tempo liveai brings to a session it starts while it has detected none.
    """

    def __init__(self, store: ParameterStore, config: LinkConfig,
                 beats: EngineBeats | None = None, start_bpm: float = 120.0) -> None:
        self.store = store
        self.config = config
        self.beats = beats
        self.start_bpm = float(start_bpm)
        self.clock = ExternalClock("Ableton Link")
        self.link: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.peers = 0
        self.forced = 0
        self.used = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rl = RateLimitedLogger(log)
        self.error = ""
        for address, value in ((ENABLED, config.enabled), (MODE, config.mode),
                               (QUANTUM, config.quantum)):
            if address in store:
                store.set(address, value, "preset")

    def _get(self, address: str, default: Any) -> Any:
        return self.store.get(address) if address in self.store else default

    def _set(self, address: str, value: Any) -> None:
        if address in self.store and self.store.get(address) != value:
            self.store.set(address, value, "link")

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread (it joins the session whenever ``/liveai/link/enabled`` is on)."""
        self._thread = threading.Thread(target=self._run, name="liveai-link", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Leave the session and stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.clock.release()
        if self.link is not None:
            self.link.enabled = False
            self.link = None
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def _create(self) -> bool:
        """Create the Link object on first use; False (logged once) when aalink cannot load."""
        if self.link is not None:
            return True
        if self.error:
            return False
        try:
            aalink = _aalink()
            self._loop = asyncio.new_event_loop()
            # Two sessions that meet settle on one timeline (Link's choice, often the older
            # one): bring the detected tempo rather than an arbitrary one.
            reading = self.beats.read() if self.beats is not None else None
            bpm = reading.tempo_bpm if reading is not None else self.start_bpm

            async def make() -> Any:  # aalink binds to the running loop (never run again)
                return aalink.Link(min(max(bpm, MIN_BPM), MAX_BPM))

            self.link = self._loop.run_until_complete(make())
            self.used = True
        except Exception as exc:  # ImportError, a missing shared library, a socket error
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("Ableton Link is off: aalink cannot start (%s); install it with "
                        "'make setup'. The show goes on without Link.", self.error)
            return False
        return True

    # -- the thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        enabled = False
        mode = ""
        last_force = -math.inf
        peers_since = math.inf
        while not self._stop.wait(POLL_S if enabled else IDLE_POLL_S):
            try:
                want = bool(self._get(ENABLED, False))
                if want != enabled:
                    enabled = want and self._create()
                    if self.link is not None:
                        self.link.enabled = enabled
                        self.link.quantum = int(self._get(QUANTUM, 4))
                    if not enabled:
                        self.clock.release()
                        self._set(PEERS, 0)
                        self._set(BPM, 0.0)
                    log.info("Ableton Link %s", "on: joined the session" if enabled else "off")
                if not enabled:
                    if want and self.error:
                        self._set(ENABLED, False)
                    continue
                link = self.link
                quantum = int(self._get(QUANTUM, 4))
                if link.quantum != quantum:
                    link.quantum = quantum
                peers = int(link.num_peers)
                if peers != self.peers:
                    log.info("Ableton Link: %d other peer%s in the session", peers,
                             "" if peers == 1 else "s")
                    if peers and not self.peers:
                        peers_since = time.monotonic()
                    self.peers = peers
                    self._set(PEERS, min(peers, 1000))
                tempo = float(link.tempo)
                if abs(float(self._get(BPM, 0.0)) - tempo) >= 0.01:
                    self._set(BPM, round(min(max(tempo, 0.0), MAX_BPM), 2))
                new_mode = str(self._get(MODE, "follow"))
                if new_mode != mode:
                    mode = new_mode
                    log.info("Ableton Link mode: %s", mode)
                    self.clock.release()
                if mode == "follow":
                    beat = float(link.beat)
                    now = time.monotonic()  # stamped right after the read: no gap between
                    if peers > 0 and now - peers_since >= FOLLOW_SETTLE_S:
                        self.clock.publish(tempo, beat, now)
                    else:
                        self.clock.release()
                else:
                    last_force = self._lead(link, quantum, last_force)
            except Exception:  # Link must never take the show down
                self._rl.warning("link", "Ableton Link thread error", exc_info=True)

    def _lead(self, link: Any, quantum: int, last_force: float) -> float:
        """Publish the engine's tempo (and phase) to the session; return the last force time."""
        reading = self.beats.read() if self.beats is not None else None
        if reading is None:
            return last_force
        tempo = min(max(reading.tempo_bpm, MIN_BPM), MAX_BPM)
        if abs(float(link.tempo) - tempo) >= LEAD_TEMPO_STEP_BPM:
            link.tempo = tempo
        now = time.monotonic()
        if now - last_force < LEAD_FORCE_INTERVAL_S:
            return last_force
        ours = reading.at(now) % quantum
        theirs = float(link.phase)
        error = (ours - theirs + quantum / 2.0) % quantum - quantum / 2.0
        if abs(error) > LEAD_PHASE_TOLERANCE_BEATS:
            # Link maps the given beat to its "now" (phase = beat mod quantum): liveai's
            # position at that very moment, taken right before the call.
            link.force_beat(float(reading.at(time.monotonic())))
            self.forced += 1
            log.debug("Ableton Link: session phase moved by %+.3f beats onto liveai's", error)
        return now

    def summary_lines(self) -> list[str]:
        """One line for the run summary (nothing when Link was never on)."""
        if not self.used:
            return []
        return [f"Ableton Link: {self.peers} other peer(s) at the end, {self.forced} phase "
                "corrections"]
