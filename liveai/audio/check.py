"""``liveai devices --test``: record a few seconds from an input and report its level."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from liveai.audio.devices import find_device
from liveai.audio.ring import SpscRing
from liveai.audio.stream import FIRST_CALLBACK_GRACE_S, StreamManager
from liveai.dsp.levels import rms_peak_db
from liveai.errors import DeviceError


@dataclass(frozen=True)
class InputCheck:
    """Levels measured on each recorded channel."""

    device: str
    sample_rate_hz: int
    seconds: float
    channels: tuple[int, ...]  # 1-based
    rms_db: tuple[float, ...]
    peak_db: tuple[float, ...]
    xruns: int

    def lines(self) -> list[str]:
        """What ``liveai devices --test`` prints."""
        out = [f"Recorded {self.seconds:.1f} s from {self.device} at {self.sample_rate_hz} Hz:"]
        for ch, rms, peak in zip(self.channels, self.rms_db, self.peak_db, strict=True):
            bar = "#" * int(max(0.0, min(1.0, (rms + 60.0) / 60.0)) * 40)
            verdict = "no signal" if peak < -90 else ("CLIPPING" if peak >= -0.1 else "")
            out.append(f"  channel {ch}: rms {rms:6.1f} dBFS  peak {peak:6.1f} dBFS  "
                       f"|{bar:<40}| {verdict}")
        if all(p < -90 for p in self.peak_db):
            out.append("No signal on any channel: check the cable, the channel numbers and "
                       "that the source is playing.")
        if self.xruns:
            out.append(f"Warning: {self.xruns} over/underflows while recording.")
        return out


def check_input(spec: str, seconds: float = 2.0, sample_rate_hz: int = 48000,
                channels: list[int] | None = None) -> InputCheck:
    """Record ``seconds`` from the input ``spec`` and measure each channel.

    Raises
    ------
    DeviceError
        When the device cannot be found or opened, or ``seconds`` is not positive.
    """
    if not 0 < seconds <= 600:
        raise DeviceError(f"--seconds {seconds:g}: record between 0 and 600 seconds")
    dev = find_device(spec, "input")
    chans = tuple(channels or range(1, min(dev.max_input_channels, 8) + 1))
    ring = SpscRing(int((seconds + 1.0) * sample_rate_hz), len(chans))
    mgr = StreamManager(ring, input=spec, sample_rate_hz=sample_rate_hz, block_size=512,
                        input_channels=chans)
    mgr.start()
    want = int(seconds * sample_rate_hz)
    # Count from the first block: some backends (PulseAudio) take a moment to start.
    deadline = time.monotonic() + seconds + FIRST_CALLBACK_GRACE_S
    try:
        while ring.read_available() < want and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        mgr.stop()
    data = np.zeros((min(ring.read_available(), want), len(chans)), dtype=np.float32)
    ring.read(data)
    data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    levels = [rms_peak_db(np.ascontiguousarray(data[:, j])) for j in range(len(chans))]
    return InputCheck(dev.label, sample_rate_hz, data.shape[0] / sample_rate_hz, chans,
                      tuple(float(r) for r, _ in levels), tuple(float(p) for _, p in levels),
                      mgr.stats().xruns)
