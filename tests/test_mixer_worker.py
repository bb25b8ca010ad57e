"""The room estimator in its own process: shared ring in, shared double buffer out."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import wait_until

from liveai.config import MixerConfig
from liveai.mixer.estimator import RoomEstimator
from liveai.mixer.live import LiveMixer
from liveai.mixer.worker import SharedState, result_dtype
from liveai.params import engine_store

SR = 48000
BLOCK = 256
DELAY = 1500  # samples, programme -> mic


def _feed(live: LiveMixer, x: np.ndarray, mic: np.ndarray) -> None:
    """Run the callback over the signal, waiting for the child to make room in the ring."""
    out = np.zeros((BLOCK, 1), dtype=np.float32)
    for k in range(0, x.size - BLOCK + 1, BLOCK):
        wait_until(lambda: live.ring.write_available() >= BLOCK, 30, "room in the ring")
        block = np.stack([x[k:k + BLOCK], mic[k:k + BLOCK]], axis=1).astype(np.float32)
        live.process(block, live.channel_index, out)


@pytest.fixture
def signals(rng):
    n = 10 * SR  # the delay finder confirms its first find after ~8 s
    x = (rng.standard_normal(n) * 0.1).astype(np.float32)
    mic = np.zeros(n, dtype=np.float32)
    mic[DELAY:] = 0.5 * x[:-DELAY]
    mic += (rng.standard_normal(n) * 1e-3).astype(np.float32)
    return x, mic


def test_estimates_come_back_as_the_in_process_estimator_makes_them(signals):
    x, mic = signals
    cfg = MixerConfig(enabled=True, mic_channel=2, auto_eq=False, crowd_comp=False)
    live = LiveMixer(SR, BLOCK, np.array([0], dtype=np.intp), cfg, 1)
    assert live.worker is not None
    path = live.worker.state.path
    live.attach(engine_store())
    live.warm_up()
    live.start()
    try:
        wait_until(lambda: live.worker.ready, 60, "the estimator process")
        _feed(live, x, mic)
        est = RoomEstimator(SR, cfg)  # the same estimator here, fed what the child was fed
        wet = np.zeros((x.size // BLOCK * BLOCK, 1), dtype=np.float32)
        chain_out = np.zeros((BLOCK, 1), dtype=np.float32)
        live2 = LiveMixer(SR, BLOCK, np.array([0], dtype=np.intp), cfg, 1, worker=False)
        live2.warm_up()
        for k in range(0, wet.shape[0], BLOCK):
            block = np.stack([x[k:k + BLOCK], mic[k:k + BLOCK]], axis=1)
            live2.process(block, live2.channel_index, chain_out)
            wet[k:k + BLOCK] = chain_out
        est.push(wet[:, 0].astype(np.float64), mic[:wet.shape[0]].astype(np.float64))
        remote = live.mixer.estimator
        wait_until(lambda: live.step(np.zeros((16, 2), np.float32)) == 0
                   and remote.frames == est.frames, 30, "the child's last hop")
        # the reference is what the chain sent: its look-ahead is part of the delay
        assert remote.delay_samples == est.delay_samples == DELAY - live.chain.latency_samples
        assert remote.seconds == pytest.approx(est.seconds)
        np.testing.assert_allclose(remote.response_db(), est.response_db(), atol=1e-6)
        np.testing.assert_allclose(remote.coherence(), est.coherence(), atol=1e-6)
        assert remote.crowd_level_db() == pytest.approx(est.crowd_level_db(), abs=1e-6)
        rep = live.publish()  # the report and the store read the remote estimate
        assert rep["delay_ms"] == pytest.approx(1e3 * est.delay_samples / SR)
        assert rep["seconds"] == pytest.approx(est.seconds)
    finally:
        live.close()
    assert live.worker.proc is None and not path.exists()


def test_a_dead_child_is_restarted_and_the_show_goes_on(signals):
    x, mic = signals
    cfg = MixerConfig(enabled=True, mic_channel=2, auto_eq=False, crowd_comp=False)
    live = LiveMixer(SR, BLOCK, np.array([0], dtype=np.intp), cfg, 1)
    live.attach(engine_store())
    live.warm_up()
    live.start()
    try:
        wait_until(lambda: live.worker.ready, 60, "the estimator process")
        first = live.worker.proc
        first.kill()
        first.wait()
        wait_until(lambda: live.worker.restarts == 1 and live.worker.ready, 30,
                   "the restarted child")
        assert live.worker.pid != first.pid
        _feed(live, x, mic)
        want = DELAY - live.chain.latency_samples
        wait_until(lambda: live.mixer.estimator.delay_samples == want, 30,
                   "the delay from the new child")
    finally:
        live.close()


def test_torn_records_are_never_read(tmp_path):
    """The double buffer's seqlock: a slot being written is refused, a flipped one read."""
    state = SharedState.create(1024, 2, 4)
    try:
        rec = np.zeros((), dtype=result_dtype(4))
        state.publish({"frames": 3, "crowd_level_db": -50.0, "response_db": np.arange(4.0)})
        assert state.latest(rec) and rec["frames"] == 3 and rec["response_db"][2] == 2.0
        s = int(state.active[0])
        state.seq[s] += 1  # the writer is in the middle of this slot
        assert not state.latest(rec)
        state.seq[s] += 1
        assert state.latest(rec) and rec["crowd_level_db"] == -50.0
        # A write that raises half-way is never made active, and leaves no counter odd: every
        # later record still reads.
        with pytest.raises(ValueError):
            state.publish({"frames": 4, "response_db": np.arange(7.0)})  # wrong shape
        assert state.latest(rec) and rec["frames"] == 3
        for frames in range(5, 10):
            state.publish({"frames": frames})
            assert state.latest(rec) and rec["frames"] == frames
    finally:
        state.close()
    assert not state.path.exists()


def test_a_soundcheck_delay_reaches_the_child(signals):
    """seed_delay (a room profile) goes through the control words; the child places its model."""
    x, mic = signals
    cfg = MixerConfig(enabled=True, mic_channel=2, auto_eq=False, crowd_comp=False)
    live = LiveMixer(SR, BLOCK, np.array([0], dtype=np.intp), cfg, 1)
    live.attach(engine_store())
    live.warm_up()
    live.mixer.estimator.seed_delay(2400, "test profile")  # before the child even runs
    assert live.mixer.estimator.delay_samples == 2400
    live.start()
    try:
        wait_until(lambda: live.worker.ready, 60, "the estimator process")
        _feed(live, x[:SR], mic[:SR])  # one second: too short for the delay finder
        remote = live.mixer.estimator
        wait_until(lambda: live.step(np.zeros((16, 2), np.float32)) == 0 and remote.frames > 0
                   and remote.rec["delay_samples"] == 2400, 30, "the seeded delay published")
        assert live.publish()["delay_ms"] == pytest.approx(50.0)
    finally:
        live.close()


def test_the_child_exits_when_the_engine_is_killed(tmp_path):
    """An engine that dies without stopping its estimator (SIGKILL, a crash) leaves no orphan."""
    import os
    import signal
    import subprocess
    import sys

    script = tmp_path / "engine.py"
    script.write_text(
        "import sys, time\n"
        "from liveai.config import MixerConfig\n"
        "from liveai.mixer.worker import EstimatorProcess\n"
        "p = EstimatorProcess(48000, 1, MixerConfig(enabled=True, mic_channel=2), 48000)\n"
        "p.start()\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(600)\n")
    engine = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        child = int(engine.stdout.readline())
        engine.send_signal(signal.SIGKILL)
        engine.wait(timeout=10)

        def gone() -> bool:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                return True
            try:  # a zombie re-parented to a reaper that has not collected it yet
                with open(f"/proc/{child}/stat") as f:
                    return f.read().split(") ")[1].startswith("Z")
            except OSError:
                return True
            return False

        wait_until(gone, 60, "the orphaned estimator to exit")
    finally:
        if engine.poll() is None:
            engine.kill()
