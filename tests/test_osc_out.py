"""Features out over OSC, received by an independent peer (liblo's oscdump)."""

from __future__ import annotations

import shutil
import socket
import subprocess

import numpy as np
import pytest
from conftest import run_cli


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_beats_and_levels_reach_an_osc_peer():
    assert shutil.which("oscdump"), "liblo-tools is not installed; run 'make test'"
    port = _free_udp_port()
    dump = subprocess.Popen(["oscdump", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        res = run_cli("run", "--demo", "--no-projector", "--seconds", "9", "--osc-out",
                      f"127.0.0.1:{port}", timeout=120)
    finally:
        dump.terminate()
        out, _ = dump.communicate(timeout=10)
    assert res.returncode == 0, res.stderr
    # the last line may be cut when oscdump is stopped
    lines = [ln.split() for ln in out.splitlines() if len(ln.split()) >= 4]
    beats = [ln for ln in lines if ln[1] == "/liveai/beat"]
    assert len(beats) >= 6, out[-2000:]
    counts = [int(b[3]) for b in beats]
    assert counts == list(range(counts[0], counts[0] + len(counts)))  # none lost, in order
    assert all(b[2] == "iif" for b in beats)
    bpm = [float(ln[3]) for ln in lines if ln[1] == "/liveai/bpm" and float(ln[3]) > 0]
    assert np.median(bpm) == pytest.approx(122.0, rel=0.02)  # the demo groove's intro
    bands = [ln for ln in lines if ln[1] == "/liveai/bands"]
    assert bands and bands[-1][2] == "f" * 8
    assert all(0.0 <= float(v) <= 1.0 for v in bands[-1][3:])
    assert any(ln[1] == "/liveai/onset/low" for ln in lines)


def test_bad_osc_target_is_one_clear_line(tmp_path):
    res = run_cli("run", "--demo", "--seconds", "1", "--osc-out", "desk-without-port")
    assert res.returncode == 2
    assert "desk-without-port" in res.stderr and "127.0.0.1:9000" in res.stderr
    preset = tmp_path / "show.toml"
    preset.write_text('[osc_out]\ntargets = ["10.0.0.5:99999"]\n')
    res = run_cli("run", "--preset", str(preset), "--seconds", "1")
    assert res.returncode == 2 and str(preset) in res.stderr and "10.0.0.5:99999" in res.stderr


def test_crowd_level_goes_out_natively_and_through_a_template():
    """The mixer's crowd estimate reaches desks as /liveai/crowd and as a template feature."""
    import time

    from liveai.config import OscTargetConfig
    from liveai.control.osc_out import FeatureSender, crowd_norm
    from liveai.frame import SharedRecord, new_frame

    assert shutil.which("oscdump"), "liblo-tools is not installed; run 'make test'"
    ports = [_free_udp_port() for _ in range(2)]
    dumps = [subprocess.Popen(["oscdump", "-L", str(p)], stdout=subprocess.PIPE, text=True)
             for p in ports]
    record = SharedRecord.create()
    record.publish(new_frame())
    levels: list[tuple[float, float] | None] = [None]
    targets = [f"127.0.0.1:{ports[0]}",
               OscTargetConfig(address=f"127.0.0.1:{ports[1]}", template="custom",
                               map={"crowd": "/desk/crowd"}, range=[0.0, 255.0])]
    sender = FeatureSender(record, targets, rate_hz=50.0, crowd=lambda: levels[0])
    try:
        time.sleep(1.0)  # oscdump is listening; no mixer estimate yet: nothing on /crowd
        levels[0] = (-50.0, -30.0)  # the crowd 20 dB under the music
        sender.start()
        time.sleep(1.0)
    finally:
        sender.stop()
        record.close()
        outs = []
        for d in dumps:
            d.terminate()
            outs.append(d.communicate(timeout=10)[0])
    native = [ln.split() for ln in outs[0].splitlines() if "/liveai/crowd" in ln]
    native = [ln for ln in native if len(ln) == 5]  # the last line may be cut
    assert native and all(ln[2] == "ff" for ln in native)
    assert float(native[-1][3]) == pytest.approx(0.5) and float(native[-1][4]) == -50.0
    desk = [ln.split() for ln in outs[1].splitlines() if "/desk/crowd" in ln]
    assert desk and float(desk[-1][3]) == pytest.approx(127.5, abs=0.6)
    assert crowd_norm(-80.0, -20.0) == 0.0 and crowd_norm(0.0, -20.0) == 1.0


def test_no_crowd_messages_without_a_mixer_estimate():
    import time

    from liveai.control.osc_out import FeatureSender
    from liveai.frame import SharedRecord, new_frame

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    record = SharedRecord.create()
    record.publish(new_frame())
    sender = FeatureSender(record, [f"127.0.0.1:{sock.getsockname()[1]}"], rate_hz=50.0,
                           crowd=lambda: None)
    sender.start()
    seen: set[str] = set()
    try:
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            try:
                data = sock.recv(4096)
            except TimeoutError:
                continue
            seen.add(data.split(b"\0", 1)[0].decode())
    finally:
        sender.stop()
        record.close()
        sock.close()
    assert "/liveai/bpm" in seen and "/liveai/crowd" not in seen


def test_osc_out_targets_change_live_from_the_parameter():
    """An engine started without OSC out begins sending when a desk sets /liveai/osc_out/targets
    (and stops sending to a target taken away)."""
    import time

    from conftest import wait_until
    from pythonosc.osc_message import OscMessage

    from liveai.app import Engine, build_source
    from liveai.config import load_show

    socks = []
    for _ in range(2):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.2)
        socks.append(s)
    a, b = (s.getsockname()[1] for s in socks)
    config, path = load_show("default")
    engine = Engine(config, build_source(config, demo=True, realtime=True), projector=False,
                    preset=path)
    assert engine.osc_out is None
    engine.start()

    def heard(sock: socket.socket) -> bool:
        try:
            return OscMessage(sock.recv(65535)).address.startswith("/liveai/")
        except TimeoutError:
            return False

    try:
        assert engine.params.set("/liveai/osc_out/targets", f"127.0.0.1:{a}, bad",
                                 source="osc").ok
        wait_until(lambda: heard(socks[0]), 15, "OSC out on the first target")
        engine.params.set("/liveai/osc_out/targets", f"127.0.0.1:{b}", source="osc")
        wait_until(lambda: heard(socks[1]), 15, "OSC out on the second target")
        time.sleep(0.3)
        while heard(socks[0]):  # drain what was in flight
            pass
        assert not heard(socks[0])  # the first one was taken away
    finally:
        engine.stop()
        engine.close()
        for s in socks:
            s.close()


def test_live_targets_take_only_allowed_ip_addresses():
    from liveai.control.osc_out import FeatureSender
    from liveai.frame import SharedRecord

    record = SharedRecord.create()
    try:
        sender = FeatureSender(record, [])
        problems = sender.set_native_targets(
            "127.0.0.1:9000, localhost:9001, 8.8.8.8:53, [::1]:9002, nonsense",
            allowed=lambda host: host in ("127.0.0.1", "::1"))
        assert sender.addresses == [("127.0.0.1", 9000), ("::1", 9002)]
        assert len(problems) == 3
        assert any("localhost" in p and "IP address" in p for p in problems)
        assert any("8.8.8.8" in p and "control.allow" in p for p in problems)
    finally:
        record.close()
