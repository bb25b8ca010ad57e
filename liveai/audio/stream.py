"""The stream manager: opens input or duplex streams, feeds the ring, survives lost devices.

The PortAudio callback only copies, counts and (duplex) runs the output processor; it never
logs, locks, waits or lets an exception escape. A supervisor thread watches the callback
counter: when the device disappears (unplugged, JACK server stopped) it keeps the ring fed
with silence at the real-time pace, logs once every few seconds, reopens the device with
backoff and resumes when it is back.

Only one StreamManager per process: reopening re-initialises PortAudio, which closes every
other stream of the process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sounddevice as sd

from liveai.audio.devices import (
    DeviceInfo,
    find_device,
    jack_server_gone,
    pulse_source_env,
    refresh,
)
from liveai.audio.ring import SpscRing
from liveai.dsp import routing
from liveai.dsp.routing import route_sanitized
from liveai.errors import DeviceError
from liveai.log import RateLimitedLogger

log = logging.getLogger(__name__)

#: Sample rates and block sizes the stream manager is built and tested for.
SAMPLE_RATES_HZ = (44100, 48000, 88200, 96000)
MIN_BLOCK, MAX_BLOCK = 32, 2048
#: Seconds a freshly opened stream may take to deliver its first block before it counts as lost.
FIRST_CALLBACK_GRACE_S = 3.0

# Counter slots (one int64 array written in place by the callback).
(_CALLBACKS, _FRAMES, _IN_OVER, _IN_UNDER, _OUT_OVER, _OUT_UNDER, _ERRORS, _SILENCE,
 _OUT_NONFINITE) = range(9)

#: ``process(indata, channel_index, outdata) -> n`` fills ``outdata`` in a duplex callback and
#: returns how many non-finite input samples it had to replace.
Processor = Callable[[np.ndarray, np.ndarray, np.ndarray], int]


def passthrough(indata: np.ndarray, channel_index: np.ndarray, outdata: np.ndarray) -> int:
    """Copy the selected input channels to the outputs, in order; extra outputs get silence.

    NaN/Inf become 0 and samples are clipped to full scale, so nothing malformed reaches the PA.
    """
    return route_sanitized(indata, channel_index, outdata, 1.0)


@dataclass(frozen=True)
class StreamStats:
    """A snapshot of the stream's counters."""

    state: str  # "running", "lost" (feeding silence), "stopped"
    device: str
    callbacks: int
    frames: int
    input_overflows: int
    input_underflows: int
    output_overflows: int
    output_underflows: int
    callback_errors: int
    silence_frames: int
    reconnects: int
    output_nonfinite: int  # NaN/Inf input samples replaced on the way to the output

    @property
    def xruns(self) -> int:
        """Every over- and underflow the driver reported."""
        return (self.input_overflows + self.input_underflows + self.output_overflows
                + self.output_underflows)


class StreamManager:
    """Owns one input-only or duplex PortAudio stream feeding an :class:`SpscRing`.

    Parameters
    ----------
    ring : SpscRing
        Receives the selected input channels; ``ring.channels`` must equal
        ``len(input_channels)``.
    input : str
        Input device: name substring, index, or ``""`` for the default.
    output : str
        Output device for ``duplex``; ``""`` = the input device's name, then the default.
    duplex : bool
        Open input and output together; ``processor`` fills the output.
    sample_rate_hz : int
        One of :data:`SAMPLE_RATES_HZ`.
    block_size : int
        Frames per callback, 32..2048.
    input_channels : sequence of int
        1-based input channels to record (e.g. ``(1, 2)`` music, ``(3,)`` a measurement mic).
    reconnect_max_s : float
        Longest wait between two reopen tries while the device is lost.
    timing_capacity : int
        Keep the duration of the last ``timing_capacity`` callbacks (for ``liveai bench audio``).
    processor : Processor, optional
        Duplex output processor; default :func:`passthrough`.
    extra_input_channels : sequence of int
        1-based input channels opened for the processor but not written to the ring (the
        mixer's room mic).
    output_count : int
        Output channels to open for ``duplex`` (0 = one per input channel); the processor
        fills them all.
    """

    def __init__(
        self,
        ring: SpscRing,
        *,
        input: str = "",
        output: str = "",
        duplex: bool = False,
        sample_rate_hz: int = 48000,
        block_size: int = 256,
        input_channels: tuple[int, ...] | list[int] = (1, 2),
        reconnect_max_s: float = 5.0,
        timing_capacity: int = 0,
        processor: Processor | None = None,
        extra_input_channels: tuple[int, ...] | list[int] = (),
        output_count: int = 0,
    ) -> None:
        if sample_rate_hz not in SAMPLE_RATES_HZ:
            raise DeviceError(f"sample rate {sample_rate_hz} Hz is not one of {SAMPLE_RATES_HZ}")
        if not MIN_BLOCK <= block_size <= MAX_BLOCK:
            raise DeviceError(f"block size {block_size} is outside {MIN_BLOCK}..{MAX_BLOCK}")
        if ring.channels != len(input_channels):
            raise ValueError("ring channels must match the number of selected input channels")
        bad = [c for c in (*input_channels, *extra_input_channels) if not 1 <= int(c) <= 64]
        if bad or not input_channels:
            raise DeviceError(f"input channels {list(input_channels)}: channels are numbered "
                              "from 1 (at most 64)")
        self.ring = ring
        self.input_spec = str(input)
        self.output_spec = str(output)
        self.duplex = bool(duplex)
        self.sample_rate_hz = int(sample_rate_hz)
        self.block_size = int(block_size)
        self.input_channels = tuple(int(c) for c in input_channels)
        self.reconnect_max_s = float(reconnect_max_s)
        self.processor: Processor = processor or passthrough
        self._channel_index = np.array([c - 1 for c in self.input_channels], dtype=np.intp)
        self.extra_input_channels = tuple(int(c) for c in extra_input_channels)
        self.output_count = int(output_count)
        self._counts = np.zeros(9, dtype=np.int64)
        self._timing_ns = np.zeros(max(int(timing_capacity), 1), dtype=np.int64)
        self._timing_on = timing_capacity > 0
        self._timing_base = 0
        self._stream: sd.Stream | sd.InputStream | None = None
        self._orphans: list[object] = []  # streams that could not be closed safely
        self._device: DeviceInfo | None = None
        self._state = "stopped"
        self._reconnects = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rl = RateLimitedLogger(log, interval_s=5.0)
        self._generation = 0  # only the callback of the current stream may write
        self._swap = threading.Lock()  # stream swaps: supervisor vs stop(); never the callback
        self._errors_reported = 0
        self._nonfinite_reported = 0

    # -- the callback (real-time) ----------------------------------------------------------------
    def _make_callback(self, generation: int) -> Callable[..., None]:
        """A callback bound to one opened stream; it goes quiet once that stream is replaced."""
        counts = self._counts
        timing = self._timing_ns
        ring = self.ring
        chan = self._channel_index
        duplex = self.duplex

        def callback(indata, *args) -> None:
            t0 = time.perf_counter_ns()
            try:
                if duplex:
                    outdata, frames, _time, status = args
                else:
                    frames, _time, status = args
                if generation != self._generation:  # a stream left behind: never write twice
                    if duplex:
                        outdata.fill(0.0)
                    return
                if status:
                    if status.input_overflow:
                        counts[_IN_OVER] += 1
                    if status.input_underflow:
                        counts[_IN_UNDER] += 1
                    if status.output_overflow:
                        counts[_OUT_OVER] += 1
                    if status.output_underflow:
                        counts[_OUT_UNDER] += 1
                ring.write(indata, chan)
                if duplex:
                    counts[_OUT_NONFINITE] += self.processor(indata, chan, outdata)
                counts[_FRAMES] += frames
            except BaseException:  # nothing may escape into PortAudio
                counts[_ERRORS] += 1
                if duplex:
                    try:
                        args[0].fill(0.0)
                    except BaseException:
                        pass
            n = counts[_CALLBACKS]
            counts[_CALLBACKS] = n + 1
            if self._timing_on:
                timing[n % timing.shape[0]] = time.perf_counter_ns() - t0

        return callback

    # -- opening -------------------------------------------------------------------------------
    def _open(self) -> tuple[sd.Stream | sd.InputStream, DeviceInfo]:
        """Find the devices and start a stream; raises DeviceError or sd.PortAudioError."""
        dev_in = find_device(self.input_spec, "input")
        need = max(self.input_channels + self.extra_input_channels)
        if dev_in.max_input_channels < need:
            raise DeviceError(
                f"input '{dev_in.name}' has {dev_in.max_input_channels} channels; "
                f"audio.input_channels = {list(self.input_channels)}"
                + (f" and mixer.mic_channel = {self.extra_input_channels[0]}"
                   if self.extra_input_channels else "") + f" need {need}"
            )
        generation = self._generation + 1
        kwargs = dict(
            samplerate=self.sample_rate_hz, blocksize=self.block_size, dtype="float32",
            latency="low", callback=self._make_callback(generation),
        )
        with pulse_source_env(dev_in):
            if self.duplex:
                out_spec = self.output_spec or dev_in.name
                try:
                    dev_out = find_device(out_spec, "output")
                except DeviceError:
                    if self.output_spec:
                        raise
                    dev_out = find_device("", "output")
                n_out = min(dev_out.max_output_channels,
                            self.output_count or len(self.input_channels))
                stream = sd.Stream(device=(dev_in.index, dev_out.index),
                                   channels=(need, n_out), **kwargs)
            else:
                stream = sd.InputStream(device=dev_in.index, channels=need, **kwargs)
            self._generation = generation  # from now on only this stream's callback writes
            try:
                stream.start()
            except BaseException:
                stream.close(ignore_errors=True)
                raise
        return stream, dev_in

    def start(self) -> None:
        """Open the stream and start supervising it.

        Raises
        ------
        DeviceError
            When the device cannot be found or opened now (the message says why).
        """
        routing.warm_up()
        try:
            self._stream, self._device = self._open()
        except sd.PortAudioError as exc:
            raise DeviceError(f"cannot open audio input '{self.input_spec or 'default'}': "
                              f"{exc}") from None
        self._state = "running"
        log.info("audio %s stream on %s: %d Hz, %d-frame blocks, channels %s, latency %s",
                 "duplex" if self.duplex else "input", self._device.label, self.sample_rate_hz,
                 self.block_size, list(self.input_channels), self.latency_s)
        self._stop.clear()
        self._thread = threading.Thread(target=self._supervise, name="liveai-stream-supervisor",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop supervising and close the stream."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            if self._thread.is_alive():
                log.warning("the audio supervisor did not stop in time; closing anyway")
            self._thread = None
        with self._swap:
            self._generation += 1  # silence any callback still running
            self._close_stream()
        self._state = "stopped"

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        if jack_server_gone():
            # Its server is gone: PortAudio would wait forever for a callback that never comes.
            # The stream dies with its abandoned PortAudio instance (see devices.refresh).
            self._orphans.append(stream)
            return

        def close() -> None:
            try:
                stream.abort(ignore_errors=True)
            finally:
                stream.close(ignore_errors=True)

        # A vanished USB device can make PortAudio block in close: never let it hold us up.
        closer = threading.Thread(target=close, name="liveai-stream-close", daemon=True)
        closer.start()
        closer.join(timeout=2.0)
        if closer.is_alive():
            log.warning("closing the lost audio stream is hanging; leaving it behind")
            self._orphans.append(stream)

    # -- supervision ---------------------------------------------------------------------------
    def _stream_alive(self, callbacks_seen: bool, last_change: float, now: float) -> bool:
        stream = self._stream
        if stream is None:
            return False
        try:
            active = stream.active
        except sd.PortAudioError:
            return False
        # Some backends (PulseAudio through ALSA) take a while to deliver the first block.
        stall_s = max(0.5, 8.0 * self.block_size / self.sample_rate_hz)
        if not callbacks_seen:
            stall_s = max(stall_s, FIRST_CALLBACK_GRACE_S)
        return active and (now - last_change) < stall_s

    def _report_callback_errors(self) -> None:
        errors = int(self._counts[_ERRORS])
        if errors != self._errors_reported:
            self._rl.warning("callback-errors", "the audio callback failed %d times so far; "
                             "the output was muted for those blocks",
                             errors)
            self._errors_reported = errors
        bad = int(self._counts[_OUT_NONFINITE])
        if bad != self._nonfinite_reported:
            self._rl.warning("nonfinite", "%d NaN/Inf input samples were replaced by silence "
                             "on the way to the output", bad)
            self._nonfinite_reported = bad

    def _supervise(self) -> None:
        last_cb = int(self._counts[_CALLBACKS])
        seen = False  # a callback arrived since the stream was (re)opened
        last_change = time.monotonic()
        while not self._stop.wait(0.05):
            self._report_callback_errors()
            now = time.monotonic()
            cb = int(self._counts[_CALLBACKS])
            if cb != last_cb:
                last_cb, last_change, seen = cb, now, True
                continue
            if self._stream_alive(seen, last_change, now):
                continue
            self._run_lost(silence_from=last_change)
            last_cb = int(self._counts[_CALLBACKS])
            last_change = time.monotonic()
            seen = False

    def _try_reopen(self, result: dict) -> None:
        """Worker: re-scan and reopen; may block (PortAudio, pactl), so it runs on its own."""
        try:
            refresh()
            result["opened"] = self._open()
        except (DeviceError, sd.PortAudioError, OSError) as exc:
            result["error"] = exc
        except Exception as exc:  # an unexpected failure must not end the retries
            result["error"] = exc

    def _run_lost(self, silence_from: float) -> None:
        """Feed silence at the real-time pace and retry the device until it returns."""
        self._state = "lost"
        name = self._device.label if self._device else self.input_spec
        log.warning("audio input %s stopped delivering audio; running on silence and "
                    "retrying", name)
        with self._swap:
            self._generation += 1
            self._close_stream()
        block_s = self.block_size / self.sample_rate_hz
        # Never owe more silence than the ring holds (after a suspend, say).
        fed_until = max(silence_from, time.monotonic() - self.ring.capacity / self.sample_rate_hz)
        backoff_s, next_try = 0.25, time.monotonic()
        lost_at = time.monotonic()
        attempt: threading.Thread | None = None
        result: dict = {}
        while not self._stop.is_set():
            now = time.monotonic()
            while now - fed_until >= block_s:
                if self.ring.write_silence(self.block_size):
                    self._counts[_SILENCE] += self.block_size
                fed_until += block_s
            if attempt is not None and not attempt.is_alive():
                attempt = None
                if "opened" in result:
                    with self._swap:
                        self._stream, self._device = result["opened"]
                        if self._stop.is_set():  # stop() came while we were opening
                            self._close_stream()
                            return
                    self._reconnects += 1
                    self._state = "running"
                    log.warning("audio input %s is back after %.1f s", self._device.label,
                                time.monotonic() - lost_at)
                    return
                self._rl.warning("lost", "audio input %s still unavailable after %.0f s "
                                 "(%s); next try in %.1f s", name, now - lost_at,
                                 result.get("error"), backoff_s)
                next_try = now + backoff_s
                backoff_s = min(backoff_s * 2.0, self.reconnect_max_s)
            if attempt is None and now >= next_try:
                result = {}
                attempt = threading.Thread(target=self._try_reopen, args=(result,),
                                           name="liveai-stream-reopen", daemon=True)
                attempt.start()
            self._stop.wait(min(0.01, block_s))

    # -- status --------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """``"running"``, ``"lost"`` (feeding silence while retrying) or ``"stopped"``."""
        return self._state

    @property
    def latency_s(self) -> float | tuple[float, float] | None:
        """PortAudio's reported latency (input, or (input, output) for duplex), seconds."""
        return None if self._stream is None else self._stream.latency

    @property
    def device(self) -> DeviceInfo | None:
        """The input device in use."""
        return self._device

    def stats(self) -> StreamStats:
        """Snapshot of the counters (safe from any thread)."""
        c = self._counts.copy()
        return StreamStats(
            state=self._state,
            device=self._device.label if self._device else "",
            callbacks=int(c[_CALLBACKS]), frames=int(c[_FRAMES]),
            input_overflows=int(c[_IN_OVER]), input_underflows=int(c[_IN_UNDER]),
            output_overflows=int(c[_OUT_OVER]), output_underflows=int(c[_OUT_UNDER]),
            callback_errors=int(c[_ERRORS]), silence_frames=int(c[_SILENCE]),
            reconnects=self._reconnects, output_nonfinite=int(c[_OUT_NONFINITE]),
        )

    def callback_times_s(self) -> np.ndarray:
        """Durations of the callbacks since :meth:`reset_timing`, seconds, oldest first.

        Only the last ``timing_capacity`` callbacks are kept; empty without timing.
        """
        if not self._timing_on:
            return np.zeros(0)
        n = int(self._counts[_CALLBACKS])
        cap = self._timing_ns.shape[0]
        idx = np.arange(max(self._timing_base, n - cap), n) % cap
        return self._timing_ns[idx] / 1e9

    def reset_timing(self) -> None:
        """Start a new measurement window for :meth:`callback_times_s`."""
        self._timing_base = int(self._counts[_CALLBACKS])
