"""Audio sources behind one interface: a live device, an audio file, the built-in demo groove.

Every source writes into an :class:`~liveai.audio.ring.SpscRing`. A device source is driven by
the PortAudio callback; the file and demo sources by a feeder thread that either keeps the
real-time pace (a live show without an input) or runs as fast as the consumer reads
(offline analysis), waiting for room in the ring rather than dropping audio.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from liveai.audio.demo import DemoGroove
from liveai.audio.ring import SpscRing
from liveai.audio.stream import StreamManager
from liveai.errors import SourceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceStats:
    """What a source has delivered so far."""

    kind: str  # "device", "file", "demo"
    state: str  # "running", "lost", "ended", "stopped"
    frames: int
    xruns: int
    overruns: int
    silence_frames: int


class Source(ABC):
    """Something that fills a ring with audio.

    Attributes
    ----------
    kind : str
        ``"device"``, ``"file"`` or ``"demo"``.
    sample_rate_hz : int
    channels : int
        Channels written per frame.
    description : str
        One line for the log and the summary.
    """

    kind: str = ""
    sample_rate_hz: int
    channels: int
    description: str

    @abstractmethod
    def start(self, ring: SpscRing) -> None:
        """Begin writing into ``ring``."""

    @abstractmethod
    def stop(self) -> None:
        """Stop writing; safe to call twice."""

    @abstractmethod
    def stats(self) -> SourceStats:
        """Counters so far."""

    @property
    def finished(self) -> bool:
        """True when the source has nothing more to give (a file without looping)."""
        return False


class DeviceSource(Source):
    """Live input through PortAudio (input-only or duplex), see :class:`StreamManager`."""

    kind = "device"

    def __init__(self, **stream_kwargs) -> None:
        self._kwargs = stream_kwargs
        self.sample_rate_hz = int(stream_kwargs.get("sample_rate_hz", 48000))
        self.channels = len(stream_kwargs.get("input_channels", (1, 2)))
        self.manager: StreamManager | None = None
        self.description = f"input device '{stream_kwargs.get('input') or 'default'}'"

    def set_processor(self, processor, extra_input_channels: tuple[int, ...] = (),
                      output_count: int = 0) -> None:
        """Fill the duplex output with ``processor`` (see :class:`StreamManager`); before start."""
        self._kwargs.update(processor=processor, extra_input_channels=extra_input_channels,
                            output_count=output_count)

    def start(self, ring: SpscRing) -> None:
        """Open the device; raises DeviceError when it cannot be opened now."""
        self.manager = StreamManager(ring, **self._kwargs)
        self.manager.start()
        self.description = f"input device {self.manager.device.label}"

    def stop(self) -> None:
        """Close the stream."""
        if self.manager is not None:
            self.manager.stop()

    def stats(self) -> SourceStats:
        """Counters of the stream and the ring."""
        if self.manager is None:
            return SourceStats(self.kind, "stopped", 0, 0, 0, 0)
        s = self.manager.stats()
        return SourceStats(self.kind, s.state, s.frames, s.xruns, self.manager.ring.overruns,
                           s.silence_frames)


class FeederSource(Source):
    """Base of sources fed by a thread that pulls :meth:`_next_block` and writes to the ring."""

    def __init__(self, block_size: int, realtime: bool) -> None:
        self.block_size = int(block_size)
        self.realtime = bool(realtime)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._frames = 0
        self._ended = False
        self._ring: SpscRing | None = None
        #: Why the source stopped early (a decode error), or None.
        self.error: str | None = None

    @abstractmethod
    def _next_block(self) -> np.ndarray | None:
        """Next block (frames, channels) float32, or None at the end."""

    def _before_write(self) -> None:
        """Hook called right before each block enters the ring (benchmarks time it)."""

    def start(self, ring: SpscRing) -> None:
        """Start the feeder thread."""
        if ring.channels != self.channels:
            raise ValueError(f"ring has {ring.channels} channels, source gives {self.channels}")
        self._ring = ring
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"liveai-{self.kind}-feeder",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._feed()
        except Exception as exc:  # a decode error mid-file: say so once and end this source
            self.error = f"stopped after {self._frames / self.sample_rate_hz:.1f} s: {exc}"
            log.error("%s %s", self.description, self.error)
            self._ended = True

    def _feed(self) -> None:
        ring = self._ring
        period_s = self.block_size / self.sample_rate_hz
        t_next = time.monotonic()
        while not self._stop.is_set():
            block = self._next_block()
            if block is None:
                self._ended = True
                log.info("%s ended", self.description)
                return
            if self.realtime:
                t_next += period_s
                delay = t_next - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -1.0:  # we were suspended: don't burst to catch up a whole second
                    t_next = time.monotonic()
                self._before_write()
                ring.write(block)  # an overrun here is counted by the ring, like a device's
            else:
                while ring.write_available() < block.shape[0]:
                    if self._stop.wait(0.001):
                        return
                self._before_write()
                ring.write(block)
            self._frames += block.shape[0]

    def stop(self) -> None:
        """Stop the feeder thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def stats(self) -> SourceStats:
        """Counters so far."""
        state = "ended" if self._ended else ("running" if self._thread else "stopped")
        overruns = self._ring.overruns if self._ring is not None else 0
        return SourceStats(self.kind, state, self._frames, 0, overruns, 0)

    @property
    def finished(self) -> bool:
        """True once the last block was written."""
        return self._ended


class FileSource(FeederSource):
    """An audio file (anything libsndfile reads), at real-time pace or as fast as possible.

    Parameters
    ----------
    path : str or Path
        The file.
    block_size : int
        Frames written per step.
    realtime : bool
        Keep the real-time pace (a show); False = as fast as the consumer reads (analysis).
    loop : bool
        Start again at the end.
    channels : int, optional
        Channels to deliver; the file's channels are mixed down (or repeated) to this.
        Default: the file's own count.

    Raises
    ------
    SourceError
        When the file is missing, unreadable or empty.
    """

    kind = "file"

    def __init__(self, path: str | Path, block_size: int = 1024, realtime: bool = True,
                 loop: bool = False, channels: int | None = None) -> None:
        super().__init__(block_size, realtime)
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"{self.path}: audio file not found")
        try:
            info = sf.info(str(self.path))
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise SourceError(f"{self.path}: cannot read this audio file ({exc})") from None
        if info.frames == 0:
            raise SourceError(f"{self.path}: the audio file is empty")
        self.sample_rate_hz = int(info.samplerate)
        self.file_channels = int(info.channels)
        self.channels = int(channels or info.channels)
        self.duration_s = info.frames / info.samplerate
        self.loop = bool(loop)
        self._sf: sf.SoundFile | None = None
        self.description = (f"audio file {self.path.name} ({self.duration_s:.1f} s, "
                            f"{self.sample_rate_hz} Hz, {self.file_channels} ch)")

    def _next_block(self) -> np.ndarray | None:
        if self._sf is None:
            self._sf = sf.SoundFile(str(self.path))
        data = self._sf.read(self.block_size, dtype="float32", always_2d=True)
        if data.shape[0] < self.block_size and self.loop:
            self._sf.seek(0)
            rest = self._sf.read(self.block_size - data.shape[0], dtype="float32",
                                 always_2d=True)
            data = np.concatenate([data, rest])
        if data.shape[0] == 0:
            self._sf.close()
            self._sf = None
            return None
        return self._match_channels(data)

    def _match_channels(self, data: np.ndarray) -> np.ndarray:
        if data.shape[1] == self.channels:
            return data
        mono = data.mean(axis=1, keepdims=True)
        return np.repeat(mono, self.channels, axis=1).astype(np.float32)

    def stop(self) -> None:
        """Stop and close the file."""
        super().stop()
        if self._sf is not None:
            self._sf.close()
            self._sf = None


class DemoSource(FeederSource):
    """The built-in demo groove (see :mod:`liveai.audio.demo`), endless.

    Parameters
    ----------
    sample_rate_hz : int
    block_size : int
    channels : int
        1 or 2.
    realtime : bool
        Keep the real-time pace.
    seconds : float, optional
        End after this long (for offline use); default endless.
    """

    kind = "demo"

    def __init__(self, sample_rate_hz: int = 48000, block_size: int = 256, channels: int = 2,
                 realtime: bool = True, seconds: float | None = None) -> None:
        super().__init__(block_size, realtime)
        self.sample_rate_hz = int(sample_rate_hz)
        self.channels = int(channels)
        self.groove = DemoGroove(self.sample_rate_hz, channels=self.channels)
        self._limit = None if seconds is None else int(seconds * self.sample_rate_hz)
        self._given = 0
        self.description = "built-in demo groove (synthesized drums, bass and pads)"

    def _next_block(self) -> np.ndarray | None:
        n = self.block_size
        if self._limit is not None:
            n = min(n, self._limit - self._given)
            if n <= 0:
                return None
        self._given += n
        return self.groove.read(n)
