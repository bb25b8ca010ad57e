"""The adaptive mixer in the live PA path: the duplex callback's processor and the room thread.

The duplex callback calls :meth:`LiveMixer.process`: it copies the programme channels out of
the input (NaN/Inf → 0), runs the chain kernel (EQ → gain → limiter → ceiling) into the
output, and copies what it sent plus the room mic into an SPSC ring. Every buffer is allocated
here, up front. If the chain fails, the programme still reaches the PA through the sanitising
route (and the failure is counted); the PA never depends on the room thread.

With a room mic, the estimator (the heavy part: a 1.5 s adaptive filter, coherence, crowd,
delay finder) runs in its own process (:mod:`liveai.mixer.worker`): the ring lives in shared
memory and the child drains it, so its numpy work never holds this process's GIL while the
callback waits for it. The child publishes its estimates through a shared double buffer.

The room thread (:meth:`LiveMixer.start`) takes those estimates (or, with ``worker=False``,
drains the ring into an in-process estimator) into an :class:`~liveai.mixer.AdaptiveMixer`
built with ``auto_update=False``, recomputes the EQ and gain targets every ``update_s`` of
audio, applies the engineer's changes read lock-free from the parameter snapshot
(``/liveai/mixer/...``), and publishes the estimates back as read-only parameters. It is the
only thread that writes the chain's parameters, and it flips them only after the callback has
run since the last flip, so the callback never reads a set being written.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import threading
import time
import weakref
from typing import Any

import numpy as np

from liveai.audio.ring import SpscRing
from liveai.config import MixerConfig
from liveai.dsp.routing import route_sanitized_held as route_sanitized
from liveai.log import RateLimitedLogger
from liveai.mixer.mixer import AdaptiveMixer
from liveai.mixer.worker import EstimatorProcess, RemoteEstimate
from liveai.params import ParameterStore, ParamSpec, ParamType

log = logging.getLogger(__name__)

PREFIX = "/liveai/mixer"
#: Niceness of the room thread (Linux threads have their own): it yields the CPU to the audio.
ROOM_NICE = 10
#: Most frames one callback may bring (the stream manager's largest block).
MAX_FRAMES = 2048

# Counter slots of :attr:`LiveMixer.counts` (written in place by the callback).
(_BLOCKS, _CHAIN_ERRORS, _NONFINITE, _RING_DROPS) = range(4)


def band_specs(n_bands: int, band_freqs_hz: np.ndarray) -> list[ParamSpec]:
    """The per-band parameters: a hand-set gain, its on/off, and freeze."""
    specs = []
    for k in range(n_bands):
        f = float(band_freqs_hz[k])
        base = f"{PREFIX}/band/{k}"
        specs += [
            ParamSpec(f"{base}/gain_db", ParamType.FLOAT, 0.0, -24.0, 24.0, unit="dB",
                      description=f"band {k} ({f:.0f} Hz) by hand: writing it turns "
                      "band/N/manual on"),
            ParamSpec(f"{base}/manual", ParamType.BOOL, False,
                      description=f"band {k} holds band/N/gain_db (off: the auto-EQ has it)"),
            ParamSpec(f"{base}/freeze", ParamType.BOOL, False,
                      description=f"band {k}: the auto-EQ leaves it where it is"),
        ]
    return specs


#: Read-only estimates the room thread publishes (``/liveai/mixer/NAME``, source ``mixer``).
ESTIMATES = ("crowd_level_db", "gain_db", "limiter_gain_db", "music_level_db")


class LiveMixer:
    """The mixer chain in the duplex callback, steered by a room thread.

    Parameters
    ----------
    sample_rate_hz : int
    block_size : int
        Frames per callback (buffers hold up to :data:`MAX_FRAMES`).
    channel_index : np.ndarray of intp, shape (channels,)
        0-based input columns of the programme (the stream's ``input_channels`` - 1).
    config : MixerConfig
        ``mic_channel`` (0 = no mic), ``output_channels`` and the mixer's limits.
    n_outputs : int
        Output channels the stream opens.
    ring_seconds : float
        Capacity of the ring to the estimator.
    worker : bool
        Run the estimator in its own process (with a room mic; without one nothing is
        estimated). False: in the room thread, as a plain in-process object (tests).
    """

    def __init__(self, sample_rate_hz: int, block_size: int, channel_index: np.ndarray,
                 config: MixerConfig, n_outputs: int, ring_seconds: float = 2.0,
                 worker: bool = True) -> None:
        self.config = config
        self.sample_rate_hz = int(sample_rate_hz)
        self.channel_index = np.asarray(channel_index, dtype=np.intp)
        k = self.channels = int(self.channel_index.shape[0])
        frames = max(MAX_FRAMES, int(block_size))
        capacity = max(int(ring_seconds * sample_rate_hz), 4 * frames)
        self.worker: EstimatorProcess | None = None
        remote = None
        if worker and config.mic_channel > 0:
            self.worker = EstimatorProcess(sample_rate_hz, k, config, capacity)
            self._finalizer = weakref.finalize(self, self.worker.close)
            remote = RemoteEstimate(sample_rate_hz, self.worker.freqs_hz, self.worker.state)
        self.mixer = AdaptiveMixer(sample_rate_hz, block_size, k, config, auto_update=False,
                                   estimator=remote)
        self.mixer.hold_apply = True  # the room thread flips the chain, see _flush
        self.chain = self.mixer.chain
        if self.chain.scratch.shape[0] < frames:
            self.chain.scratch = np.zeros((frames, k, 2))
        self.mic_index = config.mic_channel - 1  # -1: no mic
        # output j of the stream <- chain column out_map[j] (-1 = silence); the fallback route
        # sends the matching input column instead
        outs = list(config.output_channels) or list(range(1, k + 1))
        self.out_map = np.full(n_outputs, -1, dtype=np.intp)
        for col, ch in enumerate(outs):
            if ch - 1 < n_outputs:
                self.out_map[ch - 1] = col
        self.fallback_map = np.where(self.out_map >= 0,
                                     self.channel_index[np.maximum(self.out_map, 0)], -1)
        self.fallback_map = self.fallback_map.astype(np.intp)
        self._prog = np.zeros((frames, k), dtype=np.float32)
        # the chain's output, then the mic in the last column: one ring write per block
        self._wet = np.zeros((frames, k + 1), dtype=np.float32)
        self.ring = self.worker.ring if self.worker is not None else SpscRing(capacity, k + 1)
        self.counts = np.zeros(4, dtype=np.int64)
        self.ceiling = self.chain.ceiling
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._store: ParameterStore | None = None
        self._controls: dict[str, int] = {}
        self._last: dict[str, float] = {}
        self._flip_t = -1
        self._rl = RateLimitedLogger(log, interval_s=2.0)
        self._changes_logged = 0
        self._logged_at = -1e9
        self.room_errors = 0
        self.rejected_updates = 0
        self.last_report: dict[str, Any] = {}
        #: (t_s, crowd_level_db, music_level_db, gain_db, limiter_gain_db) per publish (2 Hz),
        #: the last 10 minutes (:data:`liveai.mixer.view.HISTORY_FIELDS`)
        self.history: collections.deque = collections.deque(maxlen=1200)
        self._t0 = time.monotonic()
        self.view = None

    # -- the callback (real-time) ----------------------------------------------------------------
    def process(self, indata: np.ndarray, channel_index: np.ndarray, outdata: np.ndarray) -> int:
        """Fill ``outdata`` with the processed programme (the duplex :data:`Processor`).

        Returns the non-finite input samples replaced. Never raises: a failing chain falls back
        to the sanitised dry programme, a failing ring write only loses room-thread data.
        """
        counts = self.counts
        frames = indata.shape[0]
        bad = 0
        try:
            if frames > self._prog.shape[0]:  # longer than any block PortAudio was asked for
                raise ValueError("block too long")  # numba kernels do not check bounds
            prog = self._prog[:frames]
            wet = self._wet[:frames]
            bad = route_sanitized(indata, self.channel_index, prog, 1e4)
            self.chain.process(prog, wet)
            route_sanitized(wet, self.out_map, outdata, self.ceiling)
        except BaseException:
            counts[_CHAIN_ERRORS] += 1
            bad = route_sanitized(indata, self.fallback_map, outdata, self.ceiling)
            return bad
        try:
            if self.mic_index >= 0:
                wet[:, self.channels] = indata[:, self.mic_index]
            if not self.ring.write(wet):
                counts[_RING_DROPS] += 1
        except BaseException:
            counts[_RING_DROPS] += 1
        counts[_BLOCKS] += 1
        counts[_NONFINITE] += bad
        return bad

    def warm_up(self) -> None:
        """Compile (or load) the kernels with the callback's argument types."""
        x = np.zeros((8, max(int(self.channel_index.max()), self.mic_index) + 1),
                     dtype=np.float32)
        out = np.zeros((8, self.out_map.shape[0]), dtype=np.float32)
        self.process(x, self.channel_index, out)
        self.chain.reset()  # the show starts from a clean chain
        self.counts[:] = 0
        self.ring.read(np.zeros((self.ring.read_available(), self.ring.channels),
                                dtype=np.float32))

    # -- the room thread -------------------------------------------------------------------------
    def attach(self, store: ParameterStore) -> None:
        """Register the band and estimate parameters and read the controls from ``store``."""
        m = self.mixer
        store.register_many(band_specs(self.config.n_bands, m.autoeq.band_freqs_hz))
        self._store = store
        names = ["bypass", "lock", "max_boost_db", "auto_eq", "crowd_compensation"]
        for k in range(self.config.n_bands):
            names += [f"band/{k}/gain_db", f"band/{k}/manual", f"band/{k}/freeze"]
        self._controls = {n: store.slot(f"{PREFIX}/{n}") for n in names}
        # the preset's settings are the start; the store's defaults follow them
        for address, value in (("auto_eq", self.config.auto_eq and self.mic_index >= 0),
                               ("crowd_compensation", self.config.crowd_comp
                                and self.mic_index >= 0),
                               ("max_boost_db", self.config.max_boost_db)):
            store.set(f"{PREFIX}/{address}", value, source="preset")
        self._last = {}
        self.apply_controls()

    def apply_controls(self) -> None:
        """Apply every control that moved since the last call (room thread)."""
        if self._store is None:
            return
        snap = self._store.snapshot
        m = self.mixer
        for name, slot in self._controls.items():
            value = snap.value(slot)
            if self._last.get(name) == value:
                continue
            first = name not in self._last
            self._last[name] = value
            if name == "bypass":
                if not first or value:
                    m.set_bypass(bool(value))
            elif name == "lock":
                if not first or value:
                    m.lock(bool(value))
            elif name == "max_boost_db":
                if not first or value != m.config.max_boost_db:
                    m.set_max_boost(value)
            elif name == "auto_eq":
                m.set_auto_eq(bool(value))
            elif name == "crowd_compensation":
                m.set_crowd_compensation(bool(value))
            else:
                _, k, what = name.split("/")
                band = int(k)
                if what == "freeze":
                    if not first or value:
                        m.freeze_band(band, bool(value))
                elif what == "manual":
                    if not first or value:
                        gain = snap.value(self._controls[f"band/{k}/gain_db"])
                        m.set_band(band, gain if value else None)
                elif not first:  # gain_db: writing it takes the band by hand
                    manual = snap.value(self._controls[f"band/{k}/manual"])
                    m.set_band(band, value)
                    if not manual:
                        self._store.set(f"{PREFIX}/band/{k}/manual", True, source="mixer")
                        self._last[f"band/{k}/manual"] = 1.0

    def step(self, buf: np.ndarray) -> int:
        """One pass of the room thread: drain the ring, update, apply controls, flip.

        Returns the frames drained.
        """
        m = self.mixer
        k = self.channels
        drained = 0
        if self.worker is not None:  # the child drains the ring: take what it published
            self.worker.watch()
            est = m.estimator
            if est.load():
                step = int(m.config.update_s * self.sample_rate_hz)
                before = m._samples
                m._samples = int(round(est.seconds * self.sample_rate_hz))
                for _ in range(min(m._samples // step - before // step, 4)):
                    m.update()
        while self.worker is None:
            n = self.ring.read(buf)
            if n == 0:
                break
            drained += n
            if self.mic_index < 0:
                continue
            ref = buf[:n, 0].astype(np.float64) if k == 1 else buf[:n, :k].mean(axis=1)
            before = m._samples
            m.observe(ref, buf[:n, k].astype(np.float64))
            step = int(m.config.update_s * self.sample_rate_hz)
            if before // step != m._samples // step:
                m.update()
        self.apply_controls()
        self._flush()
        self._log_changes()
        return drained

    def _flush(self) -> None:
        """Flip the chain's parameters, but only once the callback took the last set."""
        t = int(self.chain.ilim[self.chain.look + 2])  # samples the kernel has processed
        m = self.mixer
        if not m.pending or t == self._flip_t:
            return
        if not (np.all(np.isfinite(m.autoeq.coefs())) and math.isfinite(m.gain_db)):
            m.pending = False  # never hand the PA a broken filter: keep the last good set
            self.rejected_updates += 1
            self._rl.warning("nonfinite-targets", "the room estimate produced non-finite EQ/gain "
                             "targets (%d times so far); the chain keeps its last good settings",
                             self.rejected_updates)
            return
        m.flush()
        self._flip_t = int(self.chain.ilim[self.chain.look + 2])

    def _log_changes(self, interval_s: float = 2.0) -> None:
        """Log every change since the last time, at most once per ``interval_s``."""
        m = self.mixer
        new = m.change_count - self._changes_logged
        now = time.monotonic()
        if new <= 0 or now - self._logged_at < interval_s:
            return
        self._logged_at = now
        self._changes_logged = m.change_count
        shown = list(m.changes)[-min(new, len(m.changes), 8):]
        more = new - len(shown)
        log.info("mixer: %d change%s%s", new, "s" if new > 1 else "",
                 "".join(f"\n  {t:.1f} s: {what} ({why})" for t, what, why in shown)
                 + (f"\n  ... and {more} earlier" if more > 0 else ""))

    def publish(self) -> dict[str, Any]:
        """Report the estimates to the store (read-only parameters) and keep them."""
        r = self.mixer.report()
        self.last_report = r
        # a crowd level not measured yet (the room model's residual, high) is not published:
        # the visuals and the desks would see a loud crowd that is not there
        crowd_db = r["crowd_level_db"] if r["crowd_valid"] else float("nan")
        self.history.append((round(time.monotonic() - self._t0, 2), crowd_db,
                             r["music_level_db"], r["gain_db"], r["limiter_gain_db"]))
        if self._store is not None:
            for name in ESTIMATES:
                v = float(r[name]) if name != "crowd_level_db" else crowd_db
                v = min(max(v if math.isfinite(v) else -120.0, -120.0), 40.0)
                self._store.set(f"{PREFIX}/{name}", round(v, 1), source="mixer")
        return r

    def start(self, poll_s: float = 0.02) -> None:
        """Start the estimator process (with a room mic) and the room thread."""
        if self.worker is not None:
            self.worker.start()
        self._t0 = time.monotonic()
        if self.config.view_port > 0 and self.view is None:
            from liveai.mixer.view import MixerView

            try:
                self.view = MixerView(self, self.config.view_port)
                self.view.start()
            except OSError as exc:  # the show goes on without its view
                self.view = None
                log.warning("mixer view: cannot listen on port %d (%s); set [mixer] view_port "
                            "to a free one", self.config.view_port, exc)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(poll_s,),
                                        name="liveai-room", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the room thread and the estimator process."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self.worker is not None:
            self.worker.stop()
        if self.view is not None:
            self.view.stop()
            self.view = None

    def close(self) -> None:
        """Stop everything and remove the shared file (also done when the object goes)."""
        self.stop()
        if self.worker is not None:
            self._finalizer()

    def _run(self, poll_s: float) -> None:
        try:  # a background job: the audio callback and the analysis come first for the CPU
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ROOM_NICE)
        except (OSError, AttributeError):
            pass
        buf = np.zeros((4096, self.ring.channels), dtype=np.float32)
        publish_every = max(1, int(0.5 / poll_s))
        n = 0
        while not self._stop.wait(poll_s):
            try:
                self.step(buf)
                n += 1
                if n % publish_every == 0:
                    self.publish()
            except Exception:  # the PA keeps its last parameters; say what broke
                self.room_errors += 1
                self._rl.warning("room", "the room thread failed (%d so far); the mixer keeps "
                                 "its last EQ and gain", self.room_errors, exc_info=True)

    def summary_lines(self) -> list[str]:
        """Lines for the run summary."""
        c = self.counts
        r = self.last_report or self.mixer.report()
        lines = [f"mixer: {int(c[_BLOCKS])} blocks through the chain, chain errors "
                 f"{int(c[_CHAIN_ERRORS])} (dry fallback), room-ring drops {int(c[_RING_DROPS])}"
                 f", room-thread errors {self.room_errors}, non-finite targets refused "
                 f"{self.rejected_updates}" + (
                     f", estimator process: {self.worker.restarts} restarts, "
                     f"{self.worker.errors} errors" if self.worker is not None else ""),
                 f"mixer: gain {r['gain_db']:+.1f} dB, crowd {r['crowd_level_db']:.1f} dBFS, "
                 f"limiter {r['limiter_gain_db']:.1f} dB, bypass {'on' if r['bypass'] else 'off'}"
                 f", {len(self.mixer.changes)} changes logged"]
        return lines
