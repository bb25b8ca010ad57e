"""A lock-free single-producer / single-consumer ring of multichannel float32 audio.

The audio callback is the producer, the analysis thread the consumer. Positions are absolute
sample counts that only grow (no wrap ambiguity): ``write_pos - read_pos`` is the fill level.
The producer copies the data first and publishes the new write position last; the consumer
reads the position first and the data after, so it never reads samples that are not there yet.
Each side writes only its own position, so neither ever waits for the other.

When the ring is full the producer drops the incoming block and counts an overrun rather than
overwrite samples the consumer may be reading.
"""

from __future__ import annotations

import numpy as np

# Slots of the shared counter array (one int64 array, written in place: no allocation).
_W, _R, _OVERRUNS, _DROPPED = 0, 1, 2, 3


class SpscRing:
    """Single-producer / single-consumer ring buffer.

    Parameters
    ----------
    capacity_frames : int
        Frames the ring holds.
    channels : int
        Channels per frame.
    """

    def __init__(self, capacity_frames: int, channels: int = 1) -> None:
        if capacity_frames < 1 or channels < 1:
            raise ValueError(f"ring needs capacity >= 1 and channels >= 1, got {capacity_frames}, "
                             f"{channels}")
        self.capacity = int(capacity_frames)
        self.channels = int(channels)
        self._buf = np.zeros((self.capacity, self.channels), dtype=np.float32)
        self._pos = np.zeros(4, dtype=np.int64)

    # -- producer side (real-time safe: no allocation proportional to the block, no waiting) --
    def write(self, block: np.ndarray, channel_index: np.ndarray | None = None) -> bool:
        """Append a block; drop it whole and count an overrun when it does not fit.

        Parameters
        ----------
        block : np.ndarray, shape (frames, in_channels), float32
            Input samples, e.g. the ``indata`` of a PortAudio callback.
        channel_index : np.ndarray of int, shape (channels,), optional
            0-based columns of ``block`` to store; default: the first ``channels`` columns.

        Returns
        -------
        bool
            False when the block was dropped.
        """
        n = block.shape[0]
        pos = self._pos
        w = pos[_W]
        if n > self.capacity - (w - pos[_R]):
            pos[_OVERRUNS] += 1
            pos[_DROPPED] += n
            return False
        start = w % self.capacity
        first = min(n, self.capacity - start)
        buf = self._buf
        if channel_index is None:
            c = self.channels
            buf[start : start + first] = block[:first, :c]
            if first < n:
                buf[: n - first] = block[first:, :c]
        else:
            for j in range(self.channels):
                ch = channel_index[j]
                buf[start : start + first, j] = block[:first, ch]
                if first < n:
                    buf[: n - first, j] = block[first:, ch]
        pos[_W] = w + n  # publish last
        return True

    def write_silence(self, n: int) -> bool:
        """Append ``n`` frames of zeros (used while a device is lost)."""
        pos = self._pos
        w = pos[_W]
        if n > self.capacity - (w - pos[_R]):
            pos[_OVERRUNS] += 1
            pos[_DROPPED] += n
            return False
        start = w % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start : start + first] = 0.0
        if first < n:
            self._buf[: n - first] = 0.0
        pos[_W] = w + n
        return True

    # -- consumer side -------------------------------------------------------------------------
    def read_available(self) -> int:
        """Frames ready to read."""
        return int(self._pos[_W] - self._pos[_R])

    def write_available(self) -> int:
        """Frames that can be written without an overrun."""
        return self.capacity - self.read_available()

    def read(self, out: np.ndarray) -> int:
        """Move up to ``len(out)`` frames into ``out``.

        Parameters
        ----------
        out : np.ndarray, shape (frames, channels), float32
            Destination, filled from the start.

        Returns
        -------
        int
            Frames copied (less than ``len(out)`` when the ring holds fewer).
        """
        pos = self._pos
        r = pos[_R]
        n = min(out.shape[0], int(pos[_W] - r))
        if n <= 0:
            return 0
        start = r % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self._buf[start : start + first]
        if first < n:
            out[first:n] = self._buf[: n - first]
        pos[_R] = r + n  # release the space last
        return n

    # -- counters ------------------------------------------------------------------------------
    @property
    def frames_written(self) -> int:
        """Frames accepted since creation."""
        return int(self._pos[_W])

    @property
    def frames_read(self) -> int:
        """Frames consumed since creation."""
        return int(self._pos[_R])

    @property
    def overruns(self) -> int:
        """Blocks dropped because the ring was full."""
        return int(self._pos[_OVERRUNS])

    @property
    def dropped_frames(self) -> int:
        """Frames dropped because the ring was full."""
        return int(self._pos[_DROPPED])
