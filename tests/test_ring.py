"""The lock-free SPSC ring: order, wrap-around, channel selection, overruns, two threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from liveai.audio.ring import SpscRing


def test_write_read_wraps_around_in_order():
    ring = SpscRing(10, channels=1)
    out = np.zeros((10, 1), dtype=np.float32)
    total = []
    value = 0
    for n in (3, 4, 5, 6, 7, 2, 9):
        block = np.arange(value, value + n, dtype=np.float32)[:, None]
        value += n
        assert ring.write(block)
        got = ring.read(out)
        total.extend(out[:got, 0])
    assert total == list(range(value))
    assert ring.overruns == 0


def test_full_ring_drops_the_new_block_and_counts_it():
    ring = SpscRing(8, channels=1)
    assert ring.write(np.ones((6, 1), dtype=np.float32))
    assert not ring.write(np.full((3, 1), 2.0, dtype=np.float32))  # only 2 frames free
    assert ring.overruns == 1 and ring.dropped_frames == 3
    out = np.zeros((8, 1), dtype=np.float32)
    assert ring.read(out) == 6
    np.testing.assert_array_equal(out[:6, 0], 1.0)  # what was there is intact


def test_channel_index_selects_and_orders_columns():
    ring = SpscRing(16, channels=2)
    block = np.arange(12, dtype=np.float32).reshape(4, 3)  # 3 input channels
    ring.write(block, np.array([2, 0]))
    out = np.zeros((4, 2), dtype=np.float32)
    ring.read(out)
    np.testing.assert_array_equal(out, block[:, [2, 0]])


def test_silence_fills_zeros():
    ring = SpscRing(8, channels=2)
    ring.write(np.ones((5, 2), dtype=np.float32))
    out = np.zeros((5, 2), dtype=np.float32)
    ring.read(out)
    ring.write_silence(6)  # wraps
    out = np.ones((6, 2), dtype=np.float32)
    assert ring.read(out) == 6
    assert not out.any()


@pytest.mark.parametrize("capacity", [257, 4096])
def test_producer_consumer_threads_stress(capacity, rng):
    """Two threads: everything accepted arrives once, in order; drops are counted exactly."""
    ring = SpscRing(capacity, channels=2)
    sizes = rng.integers(1, 300, size=4000)
    accepted: list[np.ndarray] = []
    received: list[np.ndarray] = []
    done = threading.Event()

    def producer():
        value = 0
        for n in sizes:
            block = np.empty((n, 2), dtype=np.float32)
            block[:, 0] = np.arange(value, value + n)
            block[:, 1] = -block[:, 0]
            value += n
            if ring.write(block):
                accepted.append(block[:, 0].copy())
        done.set()

    def consumer():
        out = np.zeros((97, 2), dtype=np.float32)
        while not (done.is_set() and ring.read_available() == 0):
            got = ring.read(out)
            if got:
                received.append(out[:got].copy())

    threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    got = np.concatenate(received)
    np.testing.assert_array_equal(got[:, 0], np.concatenate(accepted))
    np.testing.assert_array_equal(got[:, 1], -got[:, 0])
    assert ring.dropped_frames == int(sizes.sum()) - got.shape[0]
    assert ring.frames_written == ring.frames_read == got.shape[0]
