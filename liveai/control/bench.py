"""``liveai bench control``: OSC messages per second and OSC → parameter latency.

Rows, each on a real UDP socket on loopback, with the sender in its own process (so it does not
share the server's interpreter lock):

- **reference**: python-osc's own ``BlockingOSCUDPServer`` and a dispatcher whose handler only
  stores the first argument (no checks, no feedback) — the floor of any python-osc server;
- **liveai, distinct addresses**: every message to another parameter, each one validated,
  applied and echoed to one feedback client;
- **liveai, fader storm**: every message to one parameter (batches coalesce to the latest).

Latency is measured with the server otherwise idle: from just before the sender's ``sendto`` to
the moment the value is in the store's snapshot (for the reference: in its handler), median and
p99 over many messages. A renderer or the audio callback sees it at its next frame or block.
"""

from __future__ import annotations

import dataclasses
import logging
import pickle
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_server import BlockingOSCUDPServer

from liveai.config import ControlConfig
from liveai.control.osc_in import OscServer
from liveai.params import ParameterStore, ParamSpec, ParamType, engine_store

log = logging.getLogger(__name__)

N_BENCH_PARAMS = 1000
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024

_SENDER = """
import pickle, socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
with open(path, "rb") as f:
    datagrams = pickle.load(f)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for d in datagrams:
    s.sendto(d, ("127.0.0.1", port))
"""


def _msg(address: str, value: float) -> bytes:
    b = OscMessageBuilder(address=address)
    b.add_arg(float(value), "f")
    return b.build().dgram


def _bench_store() -> ParameterStore:
    store = engine_store()
    store.register_many([ParamSpec(f"/liveai/bench/p{i}", ParamType.FLOAT, 0.0, 0.0, 1.0)
                         for i in range(N_BENCH_PARAMS)])
    return store


class _Reference:
    """python-osc's blocking server with a store-the-value handler, on its own thread."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.count = 0
        self.stamp_ns: dict[str, int] = {}
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._handle)
        self.server = BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def _handle(self, address: str, *args: object) -> None:
        self.values[address] = args[0] if args else None
        self.count += 1
        self.stamp_ns[address] = time.perf_counter_ns()

    def messages(self) -> int:
        return self.count

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Liveai:
    """liveai's OscServer on a bench store, with one feedback client that drains its socket."""

    def __init__(self) -> None:
        self.store = _bench_store()
        self.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sink.bind(("127.0.0.1", 0))
        self.sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        config = dataclasses.replace(
            ControlConfig(), osc_port=0, rate_limit_per_s=0.0,
            receive_buffer_bytes=RECEIVE_BUFFER_BYTES,
            feedback=[f"127.0.0.1:{self.sink.getsockname()[1]}"])
        self.server = OscServer(self.store, config)
        self.server.start()
        self.port = self.server.port
        self.stamp_ns: dict[str, int] = {}
        self.store.subscribe(self._stamp)

    def _stamp(self, address: str, value: object, source: str) -> None:
        # Listeners run right after the snapshot write: this is when readers can see it.
        self.stamp_ns[address] = time.perf_counter_ns()

    def messages(self) -> int:
        return self.server.stats()["messages"]

    def close(self) -> None:
        self.server.stop()
        self.sink.close()


def _throughput(server: _Reference | _Liveai, datagrams: list[bytes]) -> tuple[float, int]:
    """Messages per second the server handled while a sender process blasted ``datagrams``.

    Returns
    -------
    rate : float
        Messages handled per second, from the first to the last one handled.
    handled : int
        How many arrived (the rest were dropped by the kernel under the burst).
    """
    with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as f:
        pickle.dump(datagrams, f)
    path = Path(f.name)
    start = server.messages()
    try:
        proc = subprocess.Popen([sys.executable, "-c", _SENDER, str(server.port), str(path)])
        first = last = None
        count = start
        quiet_since = time.monotonic()
        while True:
            time.sleep(0.005)
            now = time.monotonic()
            n = server.messages()
            if n != count:
                first = first or now
                last, count, quiet_since = now, n, now
            elif proc.poll() is not None and now - quiet_since > 0.5:
                break
        proc.wait()
    finally:
        path.unlink(missing_ok=True)
    handled = count - start
    if first is None or last is None or last <= first:
        return 0.0, handled
    return handled / (last - first), handled


def _latency_ms(server: _Reference | _Liveai, address: str, n: int) -> np.ndarray:
    """Send ``n`` new values one at a time; time from send to visible, in ms."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out = np.full(n, np.nan)
    try:
        for i in range(n):
            server.stamp_ns.pop(address, None)
            data = _msg(address, (i % 997) / 997.0 + 1e-4)
            t0 = time.perf_counter_ns()
            sock.sendto(data, ("127.0.0.1", server.port))
            deadline = time.monotonic() + 1.0
            while address not in server.stamp_ns and time.monotonic() < deadline:
                time.sleep(0.0002)
            t1 = server.stamp_ns.get(address)
            if t1 is not None:
                out[i] = (t1 - t0) / 1e6  # [ns] → [ms]
            time.sleep(0.001)
    finally:
        sock.close()
    return out[np.isfinite(out)]


@dataclasses.dataclass
class ControlRow:
    """One measured row."""

    name: str
    rate_per_s: float  # messages handled per second
    arrived: int  # datagrams that reached the server (the kernel drops some under the burst)
    latency_ms: np.ndarray  # send → visible, one per timed message
    notes: str = ""


def measure_control(messages: int = 50_000, latency_samples: int = 1000) -> list[ControlRow]:
    """Measure the reference and liveai's server (see the module docstring).

    Parameters
    ----------
    messages : int
        Datagrams per throughput row.
    latency_samples : int
        Messages timed one by one per latency row.
    """
    rng = np.random.default_rng(1)
    values = rng.uniform(0.0, 1.0, size=messages)
    distinct = [_msg(f"/liveai/bench/p{i % N_BENCH_PARAMS}", v) for i, v in enumerate(values)]
    storm = [_msg("/liveai/master/intensity", v) for v in values]
    logging.getLogger("liveai.control.osc_in").setLevel(logging.ERROR)
    rows = []
    for name, make, datagrams in (
        ("python-osc reference (no checks, no feedback)", _Reference, distinct),
        ("liveai, distinct addresses (checked + feedback)", _Liveai, distinct),
        ("liveai, fader storm on one address (coalesced)", _Liveai, storm),
    ):
        server = make()
        try:
            time.sleep(0.2)
            rate, handled = _throughput(server, datagrams)
            lat = _latency_ms(server, "/liveai/bench/p7", latency_samples)
            notes = ""
            if isinstance(server, _Liveai):
                s = server.server.stats()
                notes = f"coalesced {s['coalesced']}, feedback sent {s['feedback_sent']}"
        finally:
            server.close()
        rows.append(ControlRow(name, rate, handled, lat, notes))
    return rows


def bench_control(messages: int = 50_000, latency_samples: int = 1000) -> list[str]:
    """Run the control benchmark; return report lines (see :func:`measure_control`)."""
    rows = measure_control(messages, latency_samples)
    ref_rate = rows[0].rate_per_s or float("nan")
    lines = [f"OSC over UDP loopback, {messages} datagrams per row from a separate process; "
             f"latency over {latency_samples} single messages (send → visible in the "
             "snapshot / handler)", ""]
    lines.append(f"  {'row':<50} {'msg/s':>9} {'× ref':>6} {'arrived':>8} "
                 f"{'lat p50':>8} {'p99':>7} {'max':>7} (ms)")
    for r in rows:
        lat = r.latency_ms
        p50, p99, mx = (np.percentile(lat, [50, 99, 100]) if lat.size
                        else (np.nan, np.nan, np.nan))
        lines.append(f"  {r.name:<50} {r.rate_per_s:>9.0f} {r.rate_per_s / ref_rate:>6.2f} "
                     f"{r.arrived:>8} {p50:>8.3f} {p99:>7.3f} {mx:>7.3f}"
                     + (f"  {r.notes}" if r.notes else ""))
    lines += ["", "A frame or audio block reads the snapshot at its start: add up to one frame "
              "(16.7 ms at 60 fps) or one block (5.3 ms at 256 frames, 48 kHz)."]
    return lines
