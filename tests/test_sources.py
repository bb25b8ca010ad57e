"""File and demo sources behind the Source interface."""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf
from conftest import SHARED, wait_until

from liveai.audio.ring import SpscRing
from liveai.audio.sources import DemoSource, FileSource
from liveai.errors import SourceError


def _collect(source, ring, timeout_s=30.0) -> np.ndarray:
    parts = []
    out = np.zeros((4096, ring.channels), dtype=np.float32)
    source.start(ring)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = ring.read(out)
        if got:
            parts.append(out[:got].copy())
        elif source.finished and ring.read_available() == 0:
            break
        else:
            time.sleep(0.001)
    source.stop()
    return np.concatenate(parts) if parts else np.zeros((0, ring.channels))


def test_file_fast_mode_delivers_every_sample_once():
    path = SHARED / "data/beats/madmom/sample.wav"
    ref, sr = sf.read(str(path), dtype="float32", always_2d=True)
    src = FileSource(path, block_size=333, realtime=False)
    assert src.sample_rate_hz == sr == 44100 and src.channels == 1
    ring = SpscRing(1000, src.channels)  # much smaller than the file: the feeder must wait
    got = _collect(src, ring)
    np.testing.assert_array_equal(got, ref)
    assert ring.overruns == 0 and src.stats().state == "ended"


def test_file_loop_and_channel_matching(tmp_path):
    x = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
    path = tmp_path / "ramp.wav"
    sf.write(str(path), x, 8000, subtype="FLOAT")
    src = FileSource(path, block_size=300, realtime=False, loop=True, channels=2)
    ring = SpscRing(10000, 2)
    src.start(ring)
    wait_until(lambda: ring.read_available() >= 3500, 30, "3500 looped frames", poll_s=0.001)
    src.stop()
    out = np.zeros((3500, 2), dtype=np.float32)
    ring.read(out)
    np.testing.assert_array_equal(out[:, 0], np.tile(x, 4)[:3500])
    np.testing.assert_array_equal(out[:, 1], out[:, 0])


def test_realtime_file_keeps_pace_roughly(tmp_path):
    path = tmp_path / "one_second.wav"
    sf.write(str(path), np.zeros(8000, dtype=np.float32), 8000)
    src = FileSource(path, block_size=800, realtime=True)
    ring = SpscRing(16000, 1)
    src.start(ring)
    time.sleep(0.25)
    early = ring.read_available()
    src.stop()
    assert 0 < early < 8000  # flowing, not dumped at once; the exact pace is a benchmark matter


@pytest.mark.parametrize("content", [None, b"", b"this is not audio at all" * 10])
def test_bad_files_give_clear_errors(tmp_path, content):
    path = tmp_path / "track.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError) as err:
        FileSource(path)
    assert str(path) in str(err.value)
    assert any(w in str(err.value) for w in ("not found", "cannot read", "empty"))


def test_empty_but_valid_file(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(str(path), np.zeros(0, dtype=np.float32), 48000)
    with pytest.raises(SourceError, match="empty"):
        FileSource(path)


def test_demo_source_offline_length():
    src = DemoSource(48000, block_size=1000, channels=2, realtime=False, seconds=2.5)
    ring = SpscRing(5000, 2)
    got = _collect(src, ring)
    assert got.shape == (120000, 2)
    np.testing.assert_array_equal(got, src.groove.__class__(48000).read(120000))
