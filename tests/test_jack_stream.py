"""The audio core through a real JACK server: sample-exact input, duplex delay, recovery."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import assert_ramp_contiguous, ramp_xruns, wait_for_ports, wait_until

from liveai.audio.ring import SpscRing
from liveai.audio.stream import StreamManager

pytestmark = pytest.mark.jack


def _drain(ring: SpscRing) -> np.ndarray:
    out = np.zeros((ring.read_available(), ring.channels), dtype=np.float32)
    ring.read(out)
    return out


@pytest.mark.parametrize("block_size", [32, 64, 128, 256, 1024, 2048])
def test_known_signal_arrives_sample_exact(jack_server, jack_peer, block_size):
    # JACK runs 1024-frame periods; PortAudio splits each into callbacks of block_size frames.
    # (A non-realtime dummy server on a shared 2-core machine cannot promise 1.3 ms deadlines,
    # and a missed JACK cycle loses audio before liveai ever sees it.)
    server = jack_server(period_frames=1024)
    ring = SpscRing(48000 * 6, channels=2)
    mgr = StreamManager(ring, input="system", sample_rate_hz=48000, block_size=block_size,
                        input_channels=(1, 2))
    mgr.start()
    try:
        ins = wait_for_ports(server, "PortAudio:in", 2)
        peer = jack_peer(server, "ramp", *ins[:2])
        time.sleep(2.0)
        result = peer.result()
        time.sleep(0.2)
    finally:
        mgr.stop()
    data = _drain(ring)
    late = ramp_xruns(server)
    n = assert_ramp_contiguous(data[:, 0], min_frames=48000, injector_xruns=late,
                               period_frames=server.period_frames)
    assert_ramp_contiguous(data[:, 1], min_frames=48000, injector_xruns=late,
                               period_frames=server.period_frames)
    # Channel 2 carries the negated ramp: the channels were not swapped or mixed.
    nz = np.flatnonzero(data[:, 0])
    np.testing.assert_array_equal(data[nz, 1], -data[nz, 0])
    stats = mgr.stats()
    assert ring.overruns == 0
    assert stats.callback_errors == 0
    assert stats.xruns == 0 or result["xruns"] > 0, "PortAudio reported xruns JACK did not see"
    assert n <= result["frames"]


def test_selected_input_channel(jack_server, jack_peer):
    """input_channels=(2,) records only the second channel (e.g. a measurement mic)."""
    server = jack_server(period_frames=1024)
    ring = SpscRing(48000 * 4, channels=1)
    mgr = StreamManager(ring, input="system", block_size=256, input_channels=(2,))
    mgr.start()
    try:
        ins = wait_for_ports(server, "PortAudio:in", 2)
        peer = jack_peer(server, "ramp", *ins[:2])  # ch1 +ramp, ch2 -ramp
        time.sleep(1.0)
        peer.result()
    finally:
        mgr.stop()
    data = _drain(ring)[:, 0]
    assert_ramp_contiguous(data, min_frames=24000, injector_xruns=ramp_xruns(server),
                           period_frames=server.period_frames)
    assert np.all(data[data != 0] < 0), "recorded channel 1 instead of channel 2"


@pytest.mark.parametrize("block_size", [128, 512])
def test_duplex_delay_matches_reported_latency(jack_server, jack_peer, block_size):
    server = jack_server(period_frames=block_size)
    ring = SpscRing(48000 * 2, channels=2)
    mgr = StreamManager(ring, input="system", duplex=True, block_size=block_size,
                        input_channels=(1, 2))
    mgr.start()
    try:
        ins = wait_for_ports(server, "PortAudio:in", 2)
        outs = wait_for_ports(server, "PortAudio:out", 2)
        in_lat, out_lat = mgr.latency_s
        reported = round((in_lat + out_lat) * 48000)
        peer = jack_peer(server, "delay", ins[0], outs[0])
        measured = peer.result()["delay_frames"]
    finally:
        mgr.stop()
    assert measured is not None, "the impulse never came back through the duplex stream"
    assert abs(measured - reported) <= 1, (measured, reported)
    assert mgr.stats().callback_errors == 0


def test_survives_jack_server_stop_and_resumes(jack_server, jack_peer):
    server = jack_server(period_frames=1024)
    ring = SpscRing(48000 * 30, channels=2)
    mgr = StreamManager(ring, input="system", block_size=256, input_channels=(1, 2),
                        reconnect_max_s=0.5)
    mgr.start()
    try:
        time.sleep(0.5)
        server.stop()  # the server disappears mid-stream
        wait_until(lambda: mgr.state == "lost", 5, "the stream to notice")
        # While lost, the ring keeps receiving silence at the real-time pace.
        wait_until(lambda: mgr.stats().silence_frames >= 48000, 10, "a second of silence")
        server.start()  # the server comes back under the same name
        wait_until(lambda: mgr.state == "running", 15, "the stream to resume")
        assert mgr.stats().reconnects == 1
        _drain(ring)
        ins = wait_for_ports(server, "PortAudio:in", 2)
        peer = jack_peer(server, "ramp", *ins[:2])
        time.sleep(1.0)
        peer.result()
    finally:
        mgr.stop()
    assert_ramp_contiguous(_drain(ring)[:, 0], min_frames=24000,
                           injector_xruns=ramp_xruns(server),
                           period_frames=server.period_frames)


@pytest.mark.parametrize("sample_rate_hz", [44100, 96000])
def test_other_sample_rates(jack_server, jack_peer, sample_rate_hz):
    server = jack_server(period_frames=1024, sample_rate_hz=sample_rate_hz)
    ring = SpscRing(sample_rate_hz * 4, channels=2)
    mgr = StreamManager(ring, input="system", sample_rate_hz=sample_rate_hz, block_size=256,
                        input_channels=(1, 2))
    mgr.start()
    try:
        ins = wait_for_ports(server, "PortAudio:in", 2)
        peer = jack_peer(server, "ramp", *ins[:2])
        assert peer.ready["samplerate"] == sample_rate_hz
        time.sleep(1.0)
        peer.result()
    finally:
        mgr.stop()
    assert_ramp_contiguous(_drain(ring)[:, 0], min_frames=sample_rate_hz // 2,
                           injector_xruns=ramp_xruns(server),
                           period_frames=server.period_frames)
    assert ring.overruns == 0


def test_duplex_output_never_carries_nan_or_overs(jack_server, jack_peer):
    """NaN/Inf and samples beyond full scale at the input never reach the PA output."""
    server = jack_server(period_frames=1024)
    ring = SpscRing(48000 * 4, channels=2)
    mgr = StreamManager(ring, input="system", duplex=True, block_size=256, input_channels=(1, 2))
    mgr.start()
    try:
        ins = wait_for_ports(server, "PortAudio:in", 2)
        outs = wait_for_ports(server, "PortAudio:out", 2)
        res = jack_peer(server, "bad", ins[0], outs[0]).result()
    finally:
        mgr.stop()
    assert res["frames_seen"] >= 48000
    assert res["nonfinite_seen"] == 0
    assert 0.45 < res["max_abs_seen"] <= 1.0  # the sine passed, the 4.0 overs were clipped
    assert mgr.stats().output_nonfinite > 1000
    assert mgr.stats().callback_errors == 0


def test_a_failing_processor_mutes_the_output_and_is_counted(jack_server, jack_peer):
    server = jack_server(period_frames=1024)
    ring = SpscRing(48000 * 4, channels=2)

    def broken(indata, channel_index, outdata):
        outdata[:] = 0.9  # half-written output must not leak out
        raise RuntimeError("processor bug")

    mgr = StreamManager(ring, input="system", duplex=True, block_size=256, input_channels=(1, 2),
                        processor=broken)
    mgr.start()
    try:
        ins = wait_for_ports(server, "PortAudio:in", 2)
        outs = wait_for_ports(server, "PortAudio:out", 2)
        res = jack_peer(server, "bad", ins[0], outs[0]).result()
        state = mgr.state
    finally:
        mgr.stop()
    assert res["max_abs_seen"] == 0.0 and res["nonfinite_seen"] == 0
    assert mgr.stats().callback_errors > 100
    assert state == "running"  # the stream kept going
    assert ring.read_available() > 0  # and the analysis side still got the input


def test_the_ramp_check_excuses_only_a_late_injector_s_stale_period():
    n = np.arange(8192)
    ramp = lambda k: ((k % 65536) + 1) / 131072.0  # noqa: E731 - jack_peer.py's encoding
    # The injecting client missed a cycle: period 2 skipped, period 3 delivered twice.
    stale = ramp(np.concatenate([n[:1024], n[2048:3072], n[2048:]])).astype(np.float32)
    with pytest.raises(AssertionError, match="broken at 2 places"):
        assert_ramp_contiguous(stale, min_frames=1000)
    assert_ramp_contiguous(stale, min_frames=1000, injector_xruns=1)
    # Blocks liveai drops or repeats (a 256-frame block, a whole 1024-frame one) are its loss,
    # never excused, however late the injector was.
    for lost in (n[1280:], n[2048:]):
        dropped = ramp(np.concatenate([n[:1024], lost])).astype(np.float32)
        with pytest.raises(AssertionError, match="broken at 1 places"):
            assert_ramp_contiguous(dropped, min_frames=1000, injector_xruns=3)
    repeated = ramp(np.concatenate([n[:2048], n[1024:]])).astype(np.float32)
    with pytest.raises(AssertionError, match="broken at 1 places"):
        assert_ramp_contiguous(repeated, min_frames=1000, injector_xruns=3)
