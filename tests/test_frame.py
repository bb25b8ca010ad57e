"""The shared-memory FeatureFrame record: layout, and no torn frames across processes."""

from __future__ import annotations

import multiprocessing as mp
import time

import numpy as np
import pytest

from liveai.frame import FRAME_DTYPE, LAYOUT_VERSION, RECORD_NBYTES, SharedRecord, new_frame


def _writer(path: str, n: int) -> None:
    rec = SharedRecord.attach(path)
    rec.owner = False
    frame = new_frame()
    for i in range(1, n + 1):
        # Every field carries the same counter, so a torn copy shows mixed values.
        for name in FRAME_DTYPE.names:
            frame[name] = i
        # publish() is an engine-only call; this writer stands in for the engine.
        rec.publish(frame)
    rec.close()


def test_reader_never_sees_a_torn_frame():
    rec = SharedRecord.create()
    try:
        n = 20000
        ctx = mp.get_context("spawn")
        proc = ctx.Process(target=_writer, args=(str(rec.path), n))
        proc.start()
        out = new_frame()
        reads = 0
        distinct = set()
        deadline = time.monotonic() + 60
        while proc.is_alive() and time.monotonic() < deadline:
            if rec.read(out) < 0:
                continue
            values = {float(np.asarray(out[name]).ravel()[0]) for name in FRAME_DTYPE.names}
            values |= {float(v) for name in FRAME_DTYPE.names for v in np.ravel(out[name])}
            assert len(values) == 1, f"torn frame: {sorted(values)[:5]}"
            distinct.add(values.pop())
            reads += 1
        proc.join(timeout=30)
        assert proc.exitcode == 0
        assert reads > 100 and len(distinct) > 10  # the test really overlapped with writes
    finally:
        rec.close()
    assert not rec.path.exists()


def test_attach_checks_the_layout(tmp_path):
    rec = SharedRecord.create()
    try:
        other = SharedRecord.attach(rec.path)
        assert other.sequence == rec.sequence
        other.close()
        assert rec.path.exists()  # only the owner removes the file
    finally:
        rec.close()
    bogus = tmp_path / "bogus.shm"
    bogus.write_bytes(b"\0" * RECORD_NBYTES)
    with pytest.raises(ValueError, match="not a liveai shared record"):
        SharedRecord.attach(bogus)
    assert LAYOUT_VERSION >= 1
