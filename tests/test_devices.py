"""``liveai devices``: listing, choosing by name or index, and the two-second input test."""

from __future__ import annotations

import threading

import pytest
from conftest import run_cli, wait_for_ports

from liveai.audio.check import check_input
from liveai.audio.devices import find_device
from liveai.errors import DeviceError

pytestmark = pytest.mark.jack


def test_list_and_find_by_name_or_index(jack_server):
    server = jack_server()
    res = run_cli("devices", env=server.env)
    assert res.returncode == 0, res.stderr
    assert "system" in res.stdout and "JACK Audio Connection Kit" in res.stdout
    dev = find_device("SYS", "input")  # case-insensitive substring
    assert dev.name == "system" and dev.max_input_channels == 4
    assert find_device(str(dev.index), "output").name == "system"
    with pytest.raises(DeviceError, match="no audio input device matches 'Scarlett'"):
        find_device("Scarlett", "input")
    with pytest.raises(DeviceError, match="index 99"):
        find_device("99", "input")


def test_device_test_shows_the_level(jack_server, jack_peer):
    server = jack_server()
    result = {}

    def record():
        result["check"] = check_input("system", seconds=4.0, channels=[1, 2, 3])

    t = threading.Thread(target=record)
    t.start()
    ins = wait_for_ports(server, "PortAudio:in", 3)
    peer = jack_peer(server, "tone", ins[0], ins[1])  # channel 3 stays silent
    t.join(timeout=30)
    peer.result()
    check = result["check"]
    assert check.channels == (1, 2, 3)
    # The tone (peak -12.04 dBFS, RMS -15.05 dBFS) arrived on channels 1 and 2; the peer
    # started after the recording did, so the RMS over the window is a little lower.
    assert check.peak_db[0] == pytest.approx(-12.04, abs=0.1)
    assert check.peak_db[1] == pytest.approx(-12.04, abs=0.1)
    assert -25.0 < check.rms_db[0] <= -15.0 and -25.0 < check.rms_db[1] <= -15.0
    assert check.peak_db[2] < -90
    text = "\n".join(check.lines())
    assert "channel 3" in text and "no signal" in text


def test_device_test_cli_without_devices():
    res = run_cli("devices", "--test", "nothing-here",
                  env={"JACK_DEFAULT_SERVER": "liveai-no-such-server"})
    assert res.returncode == 1
    assert "no audio input device matches 'nothing-here'" in res.stderr
