"""The room estimator in its own process, fed and read through shared memory.

The room estimate (a 1.5 s partitioned adaptive filter, coherence, crowd level, delay finder)
is numpy and numba work of some 10 % of a core. Run in the engine's process it holds the GIL in
slices long enough to make a 128-frame duplex callback miss its deadline; here it runs in a
child process (``python -m liveai.mixer.worker``) with its own interpreter, at a lower priority.

One file in ``/dev/shm`` (mapped by both processes) carries:

- the **ring** from the callback: an SPSC ring (:class:`SharedRing`, the same lock-free code as
  :class:`liveai.audio.ring.SpscRing`) of what the chain sent to the PA (one column per
  programme channel) and the room mic (last column), written by the callback, read by the child;
- the **estimates** back: a double buffer of :data:`result_dtype` records, each slot guarded by
  a sequence counter (a seqlock, as the FeatureFrame is): the child writes the slot not in use,
  then flips the index; the engine's room thread copies the slot in use and retries when its
  counter moved meanwhile. Neither side ever waits for the other;
- a few **control** words: stop, a delay to seed (from a soundcheck profile), the child's
  heartbeat, hops analysed and errors.

:class:`EstimatorProcess` starts, watches and stops the child; :class:`RemoteEstimate` gives
the engine's :class:`~liveai.mixer.AdaptiveMixer` the estimator's reading side (the same
methods as :class:`~liveai.mixer.estimator.RoomEstimator`) from the latest published record.

Memory ordering: as for the FeatureFrame (:mod:`liveai.frame`), x86-64 keeps stores and loads
in program order and separate numpy calls are never reordered by the compilers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import mmap
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from liveai.audio.ring import SpscRing
from liveai.config import MixerConfig
from liveai.log import RateLimitedLogger
from liveai.mixer.estimator import RoomEstimator, estimator_freqs_hz
from liveai.process import remove_stale, shm_dir, terminate

log = logging.getLogger(__name__)

MAGIC = b"LAIROOM1"
#: Niceness of the child: it yields the CPU to the audio and the analysis.
WORKER_NICE = 10
#: How often the child publishes its estimates, seconds.
PUBLISH_S = 0.1

# control words (int64)
(_STOP, _SEED_SEQ, _SEED_DELAY, _HEARTBEAT_NS, _HOPS, _ERRORS, _SEED_ACK, _READY) = range(8)
_N_CTRL = 16


def result_dtype(n_freqs: int) -> np.dtype:
    """One published set of estimates (all float64 but the counters)."""
    return np.dtype([
        ("frames", "<i8"),  # hops analysed
        ("seconds", "<f8"),  # programme analysed, s
        ("delay_samples", "<i8"),  # -1 until found
        ("delay_confidence", "<f8"),
        ("nonfinite", "<i8"),  # mic samples replaced
        ("crowd_valid", "<i8"),  # 1 once the crowd level comes from the regression
        ("crowd_level_db", "<f8"),
        ("residual_level_db", "<f8"),
        ("music_level_db", "<f8"),
        ("mic_level_db", "<f8"),
        ("erle_db", "<f8"),
        ("response_db", "<f8", (n_freqs,)),
        ("coherence", "<f8", (n_freqs,)),
        ("crowd_band_db", "<f8", (n_freqs,)),
    ])


def _layout(capacity: int, channels: int, n_freqs: int) -> tuple[dict[str, int], int]:
    """Byte offsets of the parts of the shared file, and its size."""
    rec = result_dtype(n_freqs)
    parts = [("magic", 8), ("ctrl", 8 * _N_CTRL), ("pos", 8 * 4), ("seq", 8 * 2),
             ("active", 8), ("slots", 2 * rec.itemsize), ("buf", 4 * capacity * channels)]
    offsets, at = {}, 0
    for name, size in parts:
        offsets[name] = at
        at += (size + 63) // 64 * 64  # each part on its own cache line
    return offsets, at


class SharedRing(SpscRing):
    """:class:`~liveai.audio.ring.SpscRing` whose samples and positions live in shared memory.

    Parameters
    ----------
    buf : np.ndarray, shape (capacity, channels), float32
        A view of the shared samples.
    pos : np.ndarray, shape (4,), int64
        A view of the shared positions and counters.
    """

    def __init__(self, buf: np.ndarray, pos: np.ndarray) -> None:
        self.capacity = int(buf.shape[0])
        self.channels = int(buf.shape[1])
        self._buf = buf
        self._pos = pos


class SharedState:
    """The shared file mapped: the ring, the two result slots and the control words.

    Parameters
    ----------
    path : Path
    capacity, channels, n_freqs : int
        The ring's frames and channels and the estimates' band count (both sides must agree).
    owner : bool
        True in the engine (it created the file and unlinks it on :meth:`close`).
    """

    def __init__(self, path: Path, capacity: int, channels: int, n_freqs: int,
                 owner: bool) -> None:
        self.path = Path(path)
        self.owner = owner
        self.capacity, self.channels, self.n_freqs = int(capacity), int(channels), int(n_freqs)
        off, size = _layout(self.capacity, self.channels, self.n_freqs)
        self.nbytes = size
        fd = os.open(self.path, os.O_RDWR)
        try:
            if os.fstat(fd).st_size != size:
                raise ValueError(f"{self.path}: {os.fstat(fd).st_size} bytes, expected {size}")
            self._mm = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        mm = self._mm
        self.magic = np.frombuffer(mm, np.uint8, 8, off["magic"])
        self.ctrl = np.frombuffer(mm, np.int64, _N_CTRL, off["ctrl"])
        pos = np.frombuffer(mm, np.int64, 4, off["pos"])
        self.seq = np.frombuffer(mm, np.int64, 2, off["seq"])
        self.active = np.frombuffer(mm, np.int64, 1, off["active"])
        self.slots = np.frombuffer(mm, result_dtype(self.n_freqs), 2, off["slots"])
        buf = np.frombuffer(mm, np.float32, self.capacity * self.channels, off["buf"])
        self.ring = SharedRing(buf.reshape(self.capacity, self.channels), pos)
        if not owner and bytes(self.magic) != MAGIC:
            raise ValueError(f"{self.path}: not a liveai room-estimator file")

    @classmethod
    def create(cls, capacity: int, channels: int, n_freqs: int) -> SharedState:
        """Create the file in ``/dev/shm`` (files of engines that died are removed first)."""
        folder = shm_dir()
        remove_stale(folder, "liveaimix-*-*.shm")
        path = folder / f"liveaimix-{os.getpid()}-{secrets.token_hex(4)}.shm"
        _, size = _layout(capacity, channels, n_freqs)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, size)
        finally:
            os.close(fd)
        state = cls(path, capacity, channels, n_freqs, owner=True)
        # Touch every page now: the callback's first pass over a fresh file would otherwise
        # fault each 4 KiB page in (a kernel allocation) inside the audio thread.
        state.ring._buf[...] = 0.0
        state.magic[:] = np.frombuffer(MAGIC, np.uint8)
        state.slots["delay_samples"] = -1
        return state

    # -- the double buffer -----------------------------------------------------------------------
    def publish(self, values: dict) -> None:
        """Write a record into the slot not in use, then make it the one in use (the child)."""
        s = 1 - int(self.active[0])
        # Absolute values, not increments: a write that raised (or a child killed mid-write)
        # must not leave the counter's parity inverted for every later record.
        base = int(self.seq[s]) & ~1
        self.seq[s] = base + 1  # odd: being written
        try:
            slots = self.slots
            for name, v in values.items():
                slots[name][s] = v
        finally:
            self.seq[s] = base + 2  # even: complete (a failed write is never made active)
        self.active[0] = s

    def latest(self, out: np.ndarray, tries: int = 8) -> bool:
        """Copy the record in use into ``out`` (shape (), :func:`result_dtype`); False if torn.

        A copy takes microseconds and the child publishes every :data:`PUBLISH_S`, so a retry
        is rare and a second one rarer still.
        """
        for _ in range(tries):
            s = int(self.active[0])
            v = int(self.seq[s])
            if v & 1:
                continue
            out[...] = self.slots[s]
            if int(self.seq[s]) == v:
                return True
        return False

    def close(self) -> None:
        """Unmap (and remove the file, in the engine)."""
        for name in ("magic", "ctrl", "seq", "active", "slots"):
            setattr(self, name, None)
        self.ring = None
        try:
            self._mm.close()
        except BufferError:  # a view still alive somewhere: the mapping goes with the process
            pass
        if self.owner:
            self.path.unlink(missing_ok=True)


class RemoteEstimate:
    """The reading side of a :class:`~liveai.mixer.estimator.RoomEstimator` in another process.

    :meth:`load` takes the latest published record; the methods return its values, so an
    :class:`~liveai.mixer.AdaptiveMixer` built on it updates its EQ and gain, and reports, as
    it would with the estimator in its own process.

    Parameters
    ----------
    sample_rate_hz : int
    freqs_hz : np.ndarray, shape (n_freqs,)
        The estimator's ⅓-octave centres.
    state : SharedState, optional
        Where delay requests go (:meth:`seed_delay`).
    """

    def __init__(self, sample_rate_hz: int, freqs_hz: np.ndarray,
                 state: SharedState | None = None) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self.freqs_hz = np.asarray(freqs_hz, dtype=np.float64)
        self.state = state
        self.rec = np.zeros((), dtype=result_dtype(self.freqs_hz.size))
        self.rec["delay_samples"] = -1
        self.rec["crowd_level_db"] = self.rec["music_level_db"] = -140.0
        self.rec["residual_level_db"] = self.rec["mic_level_db"] = -140.0
        self.rec["response_db"] = self.rec["crowd_band_db"] = -140.0
        self._pending_delay = -1

    def load(self) -> bool:
        """Take the latest record from the child; True when it is newer than the last one."""
        if self.state is None:
            return False
        frames = int(self.rec["frames"])
        tmp = np.zeros((), dtype=self.rec.dtype)
        # a restarted child counts from zero again: any other count is news
        if not self.state.latest(tmp) or int(tmp["frames"]) == frames:
            return False
        self.rec[...] = tmp
        return True

    @property
    def frames(self) -> int:
        """Hops analysed."""
        return int(self.rec["frames"])

    @property
    def seconds(self) -> float:
        """Programme time analysed so far."""
        return float(self.rec["seconds"])

    @property
    def delay_samples(self) -> int:
        """Reference → mic delay found (or seeded), samples; -1 until known."""
        d = int(self.rec["delay_samples"])
        return self._pending_delay if d < 0 and self._pending_delay >= 0 else d

    @property
    def delay_confidence(self) -> float:
        """The delay finder's peak ratio."""
        return float(self.rec["delay_confidence"])

    @property
    def nonfinite(self) -> int:
        """Non-finite mic samples replaced by the child."""
        return int(self.rec["nonfinite"])

    @property
    def crowd_valid(self) -> bool:
        """True once the crowd level comes from the child's regression."""
        return bool(self.rec["crowd_valid"])

    def seed_delay(self, delay_samples: int, why: str = "room profile") -> None:
        """Ask the child to place its room model at ``delay_samples`` (see RoomEstimator)."""
        self._pending_delay = int(delay_samples)
        if self.state is not None:
            ctrl = self.state.ctrl
            ctrl[_SEED_DELAY] = int(delay_samples)
            ctrl[_SEED_SEQ] += 1  # published last
        log.info("room delay %.1f ms (%s) handed to the estimator process",
                 1e3 * delay_samples / self.sample_rate_hz, why)

    def response_db(self) -> np.ndarray:
        """⅓-octave magnitude of the room model, dB."""
        return self.rec["response_db"]

    def coherence(self) -> np.ndarray:
        """Coherence of the model's estimate with the mic per band, 0..1."""
        return self.rec["coherence"].copy()

    def crowd_band_db(self) -> np.ndarray:
        """Crowd level per band at the mic, dBFS."""
        return self.rec["crowd_band_db"].copy()

    def crowd_level_db(self) -> float:
        """Overall crowd level at the mic, dBFS."""
        return float(self.rec["crowd_level_db"])

    def residual_level_db(self) -> float:
        """Power of the residual mic − model, dBFS."""
        return float(self.rec["residual_level_db"])

    def music_level_db(self) -> float:
        """Programme level at the mic as the model explains it, dBFS."""
        return float(self.rec["music_level_db"])

    def mic_level_db(self) -> float:
        """Level of the whole mic signal, dBFS."""
        return float(self.rec["mic_level_db"])

    def erle_db(self) -> float:
        """Mic power over residual power, dB."""
        return float(self.rec["erle_db"])


def estimates(est: RoomEstimator) -> dict:
    """A :class:`RoomEstimator`'s current values as a :func:`result_dtype` record's fields."""
    return {
        "frames": est.frames, "seconds": est.seconds, "delay_samples": est.delay_samples,
        "delay_confidence": est.delay_confidence, "nonfinite": est.nonfinite,
        "crowd_valid": int(est.crowd_valid),
        "crowd_level_db": est.crowd_level_db(), "residual_level_db": est.residual_level_db(),
        "music_level_db": est.music_level_db(), "mic_level_db": est.mic_level_db(),
        "erle_db": est.erle_db(), "response_db": est.response_db(),
        "coherence": est.coherence(), "crowd_band_db": est.crowd_band_db(),
    }


class EstimatorProcess:
    """Start, watch and stop the estimator child; owns the shared file.

    Parameters
    ----------
    sample_rate_hz : int
    channels : int
        Programme channels in the ring (the mic is one more column).
    config : MixerConfig
    capacity_frames : int
        Ring capacity, frames.
    """

    def __init__(self, sample_rate_hz: int, channels: int, config: MixerConfig,
                 capacity_frames: int) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self.channels = int(channels)
        self.config = config
        self.freqs_hz = estimator_freqs_hz(self.sample_rate_hz)
        self.state = SharedState.create(int(capacity_frames), self.channels + 1,
                                        self.freqs_hz.size)
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._next_start = 0.0
        self._backoff_s = 0.5
        self._rl = RateLimitedLogger(log, interval_s=5.0)

    @property
    def ring(self) -> SharedRing:
        """The ring the callback writes."""
        return self.state.ring

    def command(self) -> list[str]:
        """The child's command line."""
        est_cfg = {f.name: getattr(self.config, f.name) for f in dataclasses.fields(MixerConfig)}
        return [sys.executable, "-m", "liveai.mixer.worker", "--shm", str(self.state.path),
                "--sample-rate", str(self.sample_rate_hz), "--channels", str(self.channels),
                "--capacity", str(self.state.capacity), "--config", json.dumps(est_cfg),
                "--parent", str(os.getpid())]

    def start(self) -> None:
        """Start the child (it drains what the callback wrote meanwhile)."""
        self.state.ctrl[_STOP] = 0
        self.state.ctrl[_READY] = 0
        self.state.seq[:] += self.state.seq & 1  # a child killed mid-publish left one odd
        # its own session: Ctrl-C reaches the engine, which stops the child itself
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.info("room estimator process started (pid %d)", self.proc.pid)

    @property
    def pid(self) -> int | None:
        """The child's pid."""
        return None if self.proc is None else self.proc.pid

    @property
    def ready(self) -> bool:
        """True once the child has mapped the file and built its estimator."""
        return bool(self.state.ctrl[_READY])

    @property
    def errors(self) -> int:
        """Exceptions the child survived."""
        return int(self.state.ctrl[_ERRORS])

    def watch(self) -> None:
        """Restart a child that died (called by the room thread; backs off up to 10 s)."""
        proc = self.proc
        if proc is None or proc.poll() is None or self.state.ctrl[_STOP]:
            return
        now = time.monotonic()
        if self._next_start == 0.0:
            self._rl.warning("died", "the room estimator process stopped (exit code %s); "
                             "restarting it in %.1f s — the PA keeps its EQ and gain",
                             proc.returncode, self._backoff_s)
            self._next_start = now + self._backoff_s
            self._backoff_s = min(2.0 * self._backoff_s, 10.0)
            return
        if now >= self._next_start:
            self._next_start = 0.0
            self.start()
            self.restarts += 1  # after start(): a watcher never sees the old child's "ready"

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """Ask the child to exit, then terminate it if it does not; return its exit code."""
        proc = self.proc
        self.state.ctrl[_STOP] = 1
        if proc is None:
            return None
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("the room estimator process did not exit; terminating it")
        self.proc = None
        return terminate(proc, timeout_s=2.0)

    def close(self) -> None:
        """Stop the child and remove the shared file."""
        self.stop()
        self.state.close()


# -- the child ------------------------------------------------------------------------------------
def run(state: SharedState, sample_rate_hz: int, config: MixerConfig,
        poll_s: float = 0.01, parent_pid: int = 0) -> int:
    """The child's loop: drain the ring into a RoomEstimator, publish, until asked to stop.

    It also stops when the engine (``parent_pid``, else the parent at start) is gone: an engine
    killed without stopping it must not leave an estimator running for the rest of the night.

    Returns
    -------
    int
        Hops analysed.
    """
    est = RoomEstimator(sample_rate_hz, config)
    ctrl = state.ctrl
    k = state.channels - 1
    buf = np.zeros((4096, state.channels), dtype=np.float32)
    seed_seq = 0
    published, published_at = 0, -1e9
    rl = RateLimitedLogger(log, interval_s=5.0)
    parent = parent_pid or os.getppid()
    ctrl[_READY] = 1
    while not ctrl[_STOP]:
        if os.getppid() != parent:  # the engine died (killed, crashed): no orphan estimator
            log.warning("the engine is gone; the room estimator process exits")
            break
        ctrl[_HEARTBEAT_NS] = time.monotonic_ns()
        try:
            if int(ctrl[_SEED_SEQ]) != seed_seq:
                seed_seq = int(ctrl[_SEED_SEQ])
                est.seed_delay(int(ctrl[_SEED_DELAY]), "room profile")
                ctrl[_SEED_ACK] = seed_seq
            n = state.ring.read(buf)
            if n > 0:
                ref = buf[:n, 0].astype(np.float64) if k == 1 else buf[:n, :k].mean(axis=1)
                est.push(ref, buf[:n, k].astype(np.float64))
                ctrl[_HOPS] = est.frames
            now = time.monotonic()
            # publish new hops every PUBLISH_S, and at once when the ring ran dry
            if est.frames != published and (n == 0 or now - published_at >= PUBLISH_S):
                state.publish(estimates(est))
                published, published_at = est.frames, now
            if n == 0:
                time.sleep(poll_s)
        except Exception:  # the engine keeps the last estimates; say what broke
            ctrl[_ERRORS] += 1
            rl.warning("fail", "the room estimator failed (%d so far)", int(ctrl[_ERRORS]),
                       exc_info=True)
            time.sleep(poll_s)
    if est.frames != published:
        state.publish(estimates(est))
    return est.frames


def main(argv: list[str] | None = None) -> int:
    """``python -m liveai.mixer.worker --shm PATH ...`` (started by :class:`EstimatorProcess`)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shm", required=True, help="the shared file the engine created")
    p.add_argument("--sample-rate", type=int, required=True)
    p.add_argument("--channels", type=int, required=True, help="programme channels")
    p.add_argument("--capacity", type=int, required=True, help="ring frames")
    p.add_argument("--config", required=True, help="the [mixer] settings as JSON")
    p.add_argument("--parent", type=int, default=0,
                   help="the engine's pid: the child exits when it is gone")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        os.nice(WORKER_NICE)
    except OSError:
        pass
    config = MixerConfig(**json.loads(args.config))
    freqs = estimator_freqs_hz(args.sample_rate)
    state = SharedState(Path(args.shm), args.capacity, args.channels + 1, freqs.size,
                        owner=False)
    try:
        run(state, args.sample_rate, config, parent_pid=args.parent)
    finally:
        state.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
