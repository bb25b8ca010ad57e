"""The engine and its projector child: the split, restarts, headless runs."""

from __future__ import annotations

import itertools
import os
import signal
import time

import numpy as np
import pytest
from conftest import replace_audio, run_cli, wait_for_ports, wait_until

from liveai.app import Engine, build_source
from liveai.config import load_show
from liveai.frame import SharedRecord, new_frame


@pytest.mark.jack
@pytest.mark.display
def test_killing_the_projector_leaves_audio_running(xvfb, jack_server, jack_peer):
    server = jack_server(period_frames=1024)
    config, _ = load_show("default")
    config = replace_audio(config, source="device", input="system", block_size=1024)
    source = build_source(config)
    engine = Engine(config, source, headless=False)
    engine.start()
    try:
        ins = wait_for_ports(server, "PortAudio:in", 2)
        peer = jack_peer(server, "tone", *ins[:2])
        proj = engine.projectors[0]
        wait_until(lambda: proj.frames_rendered > 10, 60, "the projector's first frames")
        first_pid = proj.pid
        frames_before = source.stats().frames
        samples = []
        os.kill(first_pid, signal.SIGKILL)
        t_end = time.monotonic() + 60
        while time.monotonic() < t_end:
            samples.append(source.stats().frames)
            if proj.pid != first_pid and proj.frames_rendered > 20 + 10:
                break
            time.sleep(0.25)
        assert proj.pid != first_pid, "the projector was not restarted"
        assert proj.restarts == 1
        wait_until(lambda: engine.record.status[0]["pid"] == proj.pid, 30, "the new child's status")
        # The audio never paused: every quarter second the stream delivered more frames.
        assert all(b > a for a, b in itertools.pairwise(samples)), samples
        assert source.stats().frames > frames_before
        # And the new child reads live frames from the engine.
        rec = SharedRecord.attach(engine.record.path)
        frame = new_frame()
        assert rec.read(frame) >= 0 and frame["frame_index"] > 0
        assert frame["rms_db"] == pytest.approx(-15.05, abs=0.5)  # the peer's tone
        rec.close()
        peer_result = peer.result()
    finally:
        engine.stop()
        engine.close()
    st = source.stats()
    assert st.xruns == 0, f"{st.xruns} xruns (JACK saw {peer_result.get('xruns')})"
    assert st.overruns == 0
    assert source.manager.stats().callback_errors == 0


@pytest.mark.gl
def test_headless_demo_run_renders_frames():
    res = run_cli("run", "--headless", "--seconds", "5", "--demo", timeout=180)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "built-in demo groove" in out
    frames = int(out.split("projector frames rendered: ")[1].split()[0])
    features = int(out.split("feature frames: ")[1].split()[0])
    assert frames > 30 and features > 100


@pytest.mark.gl
def test_no_input_device_falls_back_to_the_demo_and_says_so():
    env = {"JACK_DEFAULT_SERVER": "liveai-no-such-server", "DISPLAY": "", "PULSE_SERVER": ""}
    listing = run_cli("devices", env=env)
    if "No audio devices found" not in listing.stdout:
        # A desktop with a sound card or an ALSA bridge: CI machines have none.
        pytest.skip("this machine has an audio input device, so there is nothing to fall back from")
    res = run_cli("run", "--seconds", "3", env=env, timeout=180)
    assert res.returncode == 0, res.stderr
    assert "No audio input device found" in res.stderr
    assert "No screen found" in res.stderr  # and it went offscreen instead of failing


def test_missing_named_input_is_a_clear_error():
    env = {"JACK_DEFAULT_SERVER": "liveai-no-such-server"}
    res = run_cli("run", "--input", "Scarlett 18i20", "--seconds", "1", "--no-projector",
                  env=env)
    assert res.returncode == 1
    assert "Scarlett 18i20" in res.stderr and "liveai devices" in res.stderr
    assert len([ln for ln in res.stderr.splitlines() if ln.startswith("liveai:")]) == 1


def test_engine_without_projector_publishes_frames():
    config, _ = load_show("default")
    source = build_source(config, demo=True, realtime=False)
    engine = Engine(config, source, projector=False)
    engine.start()
    try:
        wait_until(lambda: engine.feature_frames > 200, 60, "feature frames")
        frame = new_frame()
        assert engine.record.read(frame) >= 0
        assert frame["source_kind"] == 3 and frame["sample_rate_hz"] == 48000
        assert np.any(frame["band_level"] > 0) and frame["level"] > 0
    finally:
        engine.stop()
        engine.close()


@pytest.mark.gl
def test_headless_projector_is_restarted_too():
    config, _ = load_show("default")
    engine = Engine(config, build_source(config, demo=True), headless=True)
    engine.start()
    try:
        proj = engine.projectors[0]
        wait_until(lambda: proj.frames_rendered > 5, 60, "offscreen frames")
        first = proj.pid
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: proj.pid != first and engine.record.status[0]["frames_rendered"] > 5,
                   60, "the restarted projector's frames")
        assert proj.restarts == 1
    finally:
        engine.stop()
        engine.close()


def test_analysis_survives_a_failing_frame(caplog):
    """Regression: a failing analysis step used to kill the analysis thread."""
    config, _ = load_show("default")
    engine = Engine(config, build_source(config, demo=True, realtime=False), projector=False)
    real = engine.analyzer.process_hop
    calls = {"n": 0}

    def flaky(hop, frame):
        calls["n"] += 1
        if calls["n"] % 10 == 0:
            raise RuntimeError("boom")
        real(hop, frame)

    engine.analyzer.process_hop = flaky
    engine.start()
    try:
        wait_until(lambda: engine.feature_frames > 200, 60, "frames after failures")
    finally:
        engine.stop()
        engine.close()
    assert engine.analysis_errors >= 20
    assert any("analysis failed" in r.getMessage() for r in caplog.records)


@pytest.mark.gl
def test_several_outputs_each_render(tmp_path):
    preset = tmp_path / "two.toml"
    preset.write_text("[projector]\nwidth = 160\nheight = 90\nfps = 15\n"
                      "[[projector.outputs]]\nwidth = 128\nheight = 72\n")
    res = run_cli("run", "--preset", str(preset), "--headless", "--seconds", "5", "--demo",
                  timeout=180)
    assert res.returncode == 0, res.stderr
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("projector frames"))
    assert "over 2 outputs" in line
    assert "projector 1 started" in res.stderr and "128x72" in res.stderr
    frames = int(line.split("rendered: ")[1].split()[0])
    assert frames > 2 * 20
