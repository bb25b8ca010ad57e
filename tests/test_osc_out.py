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
