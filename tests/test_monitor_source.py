"""PulseAudio/PipeWire monitor sources ("what the computer plays") are selectable inputs."""

from __future__ import annotations

import time

import pytest
from conftest import play_to_sink, replace_audio, run_cli

from liveai.app import Engine, build_source
from liveai.audio.check import check_input
from liveai.audio.devices import find_device
from liveai.config import load_show
from liveai.frame import new_frame


def test_monitor_source_is_listed_and_found(pulse_server):
    res = run_cli("devices")
    assert res.returncode == 0, res.stderr
    assert "liveai_test.monitor" in res.stdout and "what this computer plays" in res.stdout
    dev = find_device("liveai_test.monitor", "input")
    assert dev.is_monitor and dev.pulse_source == "liveai_test.monitor"


def test_recording_what_the_computer_plays(pulse_server):
    player = play_to_sink(pulse_server, seconds=8.0)
    try:
        check = check_input("monitor", seconds=1.0, sample_rate_hz=44100, channels=[1, 2])
    finally:
        player.kill()
    assert check.peak_db[0] == pytest.approx(-12.04, abs=0.3)
    assert check.rms_db[0] == pytest.approx(-15.05, abs=0.5)


def test_engine_runs_on_a_monitor_source(pulse_server):
    player = play_to_sink(pulse_server, seconds=10.0)
    config, _ = load_show("default")
    config = replace_audio(config, source="device", input="liveai_test.monitor",
                           sample_rate_hz=44100, block_size=512)
    source = build_source(config)
    engine = Engine(config, source, projector=False)
    engine.start()
    try:
        deadline = time.monotonic() + 20
        frame = new_frame()
        while time.monotonic() < deadline:
            engine.record.read(frame)
            if frame["frame_index"] > 100 and frame["rms_db"] > -20:
                break
            time.sleep(0.05)
    finally:
        engine.stop()
        engine.close()
        player.kill()
    assert frame["rms_db"] == pytest.approx(-15.05, abs=0.5)
    assert source.stats().state != "lost"
