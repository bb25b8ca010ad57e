"""The shared-memory FeatureFrame record: layout, and no torn frames across processes."""

from __future__ import annotations

import multiprocessing as mp
import time

import numpy as np
import pytest

from liveai.frame import FRAME_DTYPE, LAYOUT_VERSION, RECORD_NBYTES, SharedRecord, new_frame


def _writer(path: str, min_frames: int, min_seconds: float) -> None:
    rec = SharedRecord.attach(path)
    frame = new_frame()
    i = 0
    t_end = time.monotonic() + min_seconds
    while i < min_frames or time.monotonic() < t_end:
        i += 1
        # Every field carries the same counter, so a torn copy shows mixed values.
        for name in FRAME_DTYPE.names:
            frame[name] = i % 1_000_000
        # publish() is an engine-only call; this writer stands in for the engine.
        rec.publish(frame)
    rec.close()


def test_reader_never_sees_a_torn_frame():
    rec = SharedRecord.create()
    try:
        ctx = mp.get_context("spawn")
        proc = ctx.Process(target=_writer, args=(str(rec.path), 20000, 1.5))
        proc.start()
        out = new_frame()
        reads = 0
        distinct = set()
        deadline = time.monotonic() + 60
        while proc.is_alive() and time.monotonic() < deadline:
            if rec.sequence == 0 or rec.read(out) < 0:  # count only reads during the writes
                continue
            values = {float(v) for name in FRAME_DTYPE.names for v in np.ravel(out[name])}
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


def test_attach_refuses_another_layout_version():
    rec = SharedRecord.create()
    try:
        rec._header["version"] = LAYOUT_VERSION + 1  # an engine from another liveai version
        with pytest.raises(ValueError, match="engine and projector differ"):
            SharedRecord.attach(rec.path)
    finally:
        rec.close()


def test_failed_read_keeps_the_last_good_frame():
    rec = SharedRecord.create()
    try:
        frame = new_frame()
        frame["frame_index"] = 7
        rec.publish(frame)
        out = new_frame()
        assert rec.read(out) == 2 and out["frame_index"] == 7
        rec._header["seq"] = 3  # a writer that never finishes
        assert rec.read(out, max_tries=50) == -1
        assert out["frame_index"] == 7
    finally:
        rec.close()


def test_a_reader_thread_outliving_the_record_reads_nothing_and_keeps_its_frame():
    # The MIDI clock's and Link's threads may read once more after the engine closed the record.
    rec = SharedRecord.create()
    frame = new_frame()
    frame["frame_index"] = 9
    rec.publish(frame)
    out = new_frame()
    assert rec.read(out) == 2
    rec.close()
    assert rec.read(out) == -1
    assert out["frame_index"] == 9
    assert rec.engine_heartbeat_ns == 0
    rec.publish(frame)  # a late publish is dropped, not an error
