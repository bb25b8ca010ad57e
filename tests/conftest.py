"""Test set-up: real servers (JACK with the dummy driver, Xvfb) started and stopped here."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from liveai.audio.devices import refresh
from liveai.audio.jackserver import JackServer
from liveai.config import ShowConfig

ROOT = Path(__file__).resolve().parent.parent
PEER = Path(__file__).resolve().parent / "jack_peer.py"
SHARED = ROOT.parent / "shared"

os.environ.setdefault("JACK_NO_START_SERVER", "1")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)


def wait_until(cond, timeout_s: float, what: str, poll_s: float = 0.05):
    """Poll ``cond()`` until it is truthy; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(poll_s)


def replace_audio(config: ShowConfig, **changes) -> ShowConfig:
    """``config`` with some ``[audio]`` settings changed."""
    return dataclasses.replace(config, audio=dataclasses.replace(config.audio, **changes))


# -- JACK ---------------------------------------------------------------------------------------
_jack_count = 0


@pytest.fixture
def jack_server(monkeypatch):
    """Factory: start a private JACK dummy server and point PortAudio at it."""
    servers: list[JackServer] = []

    def start(period_frames: int = 256, sample_rate_hz: int = 48000) -> JackServer:
        global _jack_count
        _jack_count += 1
        server = JackServer(name=f"liveai-test-{os.getpid()}-{_jack_count}",
                            sample_rate_hz=sample_rate_hz, period_frames=period_frames)
        server.start()
        servers.append(server)
        for k, v in server.env.items():
            monkeypatch.setenv(k, v)
        refresh()
        return server

    yield start
    for server in servers:
        server.stop()
    refresh()
    for server in servers:  # PortAudio's client closed only now
        server.remove_files()


def jack_ports(server: JackServer, contains: str) -> list[str]:
    """Port names of the server that contain ``contains`` (via jack_lsp)."""
    env = {**os.environ, **server.env}
    out = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True, timeout=10).stdout
    return [line.strip() for line in out.splitlines() if contains in line]


def wait_for_ports(server: JackServer, contains: str, n: int, timeout_s: float = 10.0) -> list[str]:
    def found() -> list[str] | None:
        ports = jack_ports(server, contains)
        return sorted(ports) if len(ports) >= n else None

    return wait_until(found, timeout_s, f"{n} JACK ports containing {contains!r}", poll_s=0.1)


class JackPeer:
    """tests/jack_peer.py as a separate JACK client process."""

    def __init__(self, server: JackServer, mode: str, *ports: str) -> None:
        env = {**os.environ, **server.env}
        self.proc = subprocess.Popen([sys.executable, str(PEER), mode, *ports], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"jack peer {mode} failed to start (exit {self.proc.wait()})")
        self.ready = json.loads(line)

    def result(self, timeout_s: float = 15.0) -> dict:
        """Close stdin (ramp/tone stop), return the last JSON line."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        self.proc.wait(timeout=timeout_s)
        out = self.proc.stdout.read()
        lines = [ln for ln in out.splitlines() if ln.strip()]
        return json.loads(lines[-1]) if lines else {}


@pytest.fixture
def jack_peer():
    peers: list[JackPeer] = []

    def start(server: JackServer, mode: str, *ports: str) -> JackPeer:
        peer = JackPeer(server, mode, *ports)
        peers.append(peer)
        return peer

    yield start
    for p in peers:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait()


def decode_ramp(x: np.ndarray) -> np.ndarray:
    """Ramp sample values (see jack_peer.py) back to frame counters mod 65536."""
    return np.rint(np.abs(x.astype(np.float64)) * 131072.0).astype(np.int64) - 1


def assert_ramp_contiguous(x: np.ndarray, min_frames: int, injector_xruns: int = 0,
                           period_frames: int = 1024) -> int:
    """Check the non-zero part of ``x`` is one unbroken ramp (no drop, no duplicate).

    ``injector_xruns``: cycles jackd logged the injecting client late in (``peer_ramp``; see
    :func:`ramp_xruns`). When that client misses a cycle, JACK hands on its buffer of the cycle
    before: one period repeated and one skipped before liveai sees a sample. Such breaks are
    excused — at most two per late cycle, each whole periods, adding up to no frames gained or
    lost. A block liveai drops or repeats nets frames lost or gained, and always fails.

    Returns its length.
    """
    nz = np.flatnonzero(x != 0.0)
    assert nz.size >= min_frames, f"only {nz.size} ramp samples arrived"
    seg = x[nz[0] : nz[-1] + 1]
    k = decode_ramp(seg)
    steps = np.diff(k) % 65536
    bad = np.flatnonzero(steps != 1)
    jump = (steps[bad] - 1 + 32768) % 65536 - 32768  # frames skipped (+) or repeated (-)
    excused = (injector_xruns > 0 and bad.size <= 2 * injector_xruns
               and bool(np.all(jump % period_frames == 0)) and int(jump.sum()) == 0)
    assert bad.size == 0 or excused, (
        f"ramp broken at {bad.size} places, first at sample {bad[:5]}: steps {steps[bad[:5]]} "
        f"(jackd logged the injecting client late {injector_xruns} times)"
    )
    return seg.size


def ramp_xruns(server: JackServer) -> int:
    """Cycles jackd logged the ramp injector (jack_peer.py's ``peer_ramp``) late in."""
    time.sleep(0.1)  # jackd's log is read by a thread
    return server.xruns_by_client.get("peer_ramp", 0)


# -- X display ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def xvfb():
    """An Xvfb display for the whole session; sets DISPLAY."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed; run 'make setup'")
    for num in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{num}").exists() and not Path(f"/tmp/.X{num}-lock").exists():
            break
    proc = subprocess.Popen(["Xvfb", f":{num}", "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = Path(f"/tmp/.X11-unix/X{num}")
    wait_until(lambda: proc.poll() is None and sock.exists(), 10, "Xvfb")
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = f":{num}"
    yield f":{num}"
    if old is None:
        os.environ.pop("DISPLAY", None)
    else:
        os.environ["DISPLAY"] = old
    proc.terminate()
    proc.wait(timeout=5)


def run_cli(*args: str, env: dict | None = None, timeout: float = 120.0,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m liveai ARGS`` and capture its output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "liveai", *args], env=full_env,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT)


# -- PulseAudio ---------------------------------------------------------------------------------
@pytest.fixture
def pulse_server(tmp_path, monkeypatch):
    """A private PulseAudio server with a null sink named ``liveai_test`` (monitor included)."""
    if shutil.which("pulseaudio") is None:
        if shutil.which("pipewire-pulse"):
            pytest.skip("PipeWire provides the Pulse server here; a private PulseAudio can't run")
        pytest.fail("pulseaudio is not installed; run 'make test' (scripts/setup.sh --test)")
    run = tmp_path / "pulse"
    run.mkdir()
    sock = run / "native"
    env = {**os.environ, "PULSE_RUNTIME_PATH": str(run), "PULSE_STATE_PATH": str(run),
           "HOME": str(run)}
    proc = subprocess.Popen(
        ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "-n",
         "--use-pid-file=no", "--load=module-null-sink sink_name=liveai_test",
         f"--load=module-native-protocol-unix socket={sock} auth-anonymous=1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = f"unix:{sock}"

    def ready() -> bool:
        assert proc.poll() is None, "private PulseAudio server exited"
        res = subprocess.run(["pactl", "list", "short", "sources"], capture_output=True,
                             text=True, env={**env, "PULSE_SERVER": server}, check=False)
        return "liveai_test.monitor" in res.stdout

    try:
        wait_until(ready, 15, "the private PulseAudio server", poll_s=0.1)
    except AssertionError:
        proc.kill()
        raise
    monkeypatch.setenv("PULSE_SERVER", server)
    refresh()
    yield server
    proc.terminate()
    proc.wait(timeout=5)
    refresh()


def play_to_sink(server: str, seconds: float, sample_rate_hz: int = 44100) -> subprocess.Popen:
    """Play a 1 kHz tone at -12 dBFS peak into the ``liveai_test`` sink (with pacat)."""
    t = np.arange(int(seconds * sample_rate_hz)) / sample_rate_hz
    x = (0.25 * np.sin(2 * np.pi * 1000 * t) * 32767).astype("<i2")
    proc = subprocess.Popen(
        ["pacat", "--device=liveai_test", "--format=s16le", f"--rate={sample_rate_hz}",
         "--channels=1"], stdin=subprocess.PIPE, env={**os.environ, "PULSE_SERVER": server})
    proc.stdin.write(x.tobytes())
    proc.stdin.close()
    return proc
