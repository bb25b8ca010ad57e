"""OSC in: real peers (liblo's oscsend / oscdump, plain UDP sockets) against a real server."""

from __future__ import annotations

import dataclasses
import math
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import ROOT, wait_until
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from liveai.config import ControlConfig
from liveai.control.osc_in import OscDispatcher, OscServer
from liveai.control.osc_pattern import PatternError, expand
from liveai.params import ParameterStore, ParamSpec, ParamType, coerce, engine_store

pytestmark = pytest.mark.timeout(120)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _message(address: str, *args) -> OscMessage:
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build()


def _msg(address: str, *args) -> bytes:
    return _message(address, *args).dgram


def oscsend(port: int, address: str, types: str = "", *args) -> None:
    assert shutil.which("oscsend"), "liblo-tools is not installed; run 'make test'"
    subprocess.run(["oscsend", "127.0.0.1", str(port), address, types, *map(str, args)],
                   check=True, timeout=10)


class OscDump:
    """liblo's oscdump on a free port, its lines collected as they arrive."""

    def __init__(self) -> None:
        assert shutil.which("oscdump"), "liblo-tools is not installed; run 'make test'"
        self.port = _free_udp_port()
        self.proc = subprocess.Popen(["oscdump", "-L", str(self.port)], stdout=subprocess.PIPE,
                                     text=True)
        self.lines: list[list[str]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.strip():
                self.lines.append(line.split())

    def seen(self, address: str, *args: str) -> bool:
        return any(ln[1] == address and ln[3:] == list(args) for ln in list(self.lines))

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=5)


@pytest.fixture
def oscdump():
    dumps: list[OscDump] = []

    def start() -> OscDump:
        dumps.append(OscDump())
        return dumps[-1]

    yield start
    for d in dumps:
        d.close()


@pytest.fixture
def server():
    servers: list[OscServer] = []

    def start(store: ParameterStore | None = None, **changes) -> OscServer:
        config = dataclasses.replace(ControlConfig(), osc_port=0, **changes)
        srv = OscServer(store or engine_store(), config)
        srv.start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()


class Peer:
    """A tablet: a UDP socket that sends to liveai and parses what comes back."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.target = ("127.0.0.1", port)
        self.received: list[tuple[str, list]] = []

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def poll(self) -> list[tuple[str, list]]:
        while True:
            try:
                data = self.sock.recv(65535)
            except (TimeoutError, BlockingIOError):
                return self.received
            m = OscMessage(data)
            self.received.append((m.address, m.params))

    def close(self) -> None:
        self.sock.close()


def _all_in_range(store: ParameterStore) -> list[str]:
    """Addresses whose value is not one its spec accepts (should be none)."""
    bad = []
    for spec in store.specs():
        value = store.get(spec.address)
        if spec.kind == ParamType.TRIGGER:
            ok = isinstance(value, int) and value >= 0
        else:
            try:
                ok = coerce(spec, value) == value
            except Exception:
                ok = False
        if not ok:
            bad.append(f"{spec.address} = {value!r}")
    return bad


# -- the address tree through the command line, with liblo's tools on both sides ----------------
def test_oscsend_drives_a_headless_engine_and_oscdump_gets_the_feedback(tmp_path, oscdump):
    dump = oscdump()
    port = _free_udp_port()
    preset = tmp_path / "show.toml"
    preset.write_text(f'[control]\nfeedback = ["127.0.0.1:{dump.port}"]\n')
    engine = subprocess.Popen(
        [sys.executable, "-m", "liveai", "run", "--preset", str(preset), "--headless",
         "--no-projector", "--demo", "--seconds", "100", "--osc-port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def applied(address, types, value, *expect):
            def check():
                oscsend(port, address, types, value)  # resent until the engine is up
                return dump.seen(*expect)
            wait_until(check, 60, f"{address} {value} echoed as {expect}", poll_s=0.2)

        applied("/liveai/master/intensity", "f", 0.25, "/liveai/master/intensity", "0.250000")
        applied("/liveai/autopilot/mode", "i", 0, "/liveai/autopilot/mode", '"sequence"')
        applied("/liveai/autopilot/every/norm", "f", 1.0, "/liveai/autopilot/every", "1000")
        applied("/liveai/master/{blackout,freeze}", "T", "", "/liveai/master/freeze", "1")
        assert dump.seen("/liveai/master/blackout", "1")
        oscsend(port, "/liveai/master/intensity", "f", 5.0)  # out of range: refused
        oscsend(port, "/liveai/master/intensity", "f", "nan")
        oscsend(port, "/liveai/no/such/thing", "f", 1.0)
        applied("/liveai/mixer/max_boost_db", "i", 3, "/liveai/mixer/max_boost_db", "3.000000")
    finally:
        engine.send_signal(signal.SIGTERM)
        out, err = engine.communicate(timeout=30)
    assert engine.returncode == 0, err[-3000:]
    assert not any(ln[1] == "/liveai/master/intensity" and ln[3] in ("5.000000", "nan")
                   for ln in dump.lines)
    summary = next(ln for ln in out.splitlines() if ln.startswith("OSC in:"))
    assert "out_of_range 1" in summary and "not_finite 1" in summary, summary
    assert "unknown_address 1" in summary, summary


def test_osc_tree_lists_every_engine_parameter():
    res = subprocess.run([sys.executable, "-m", "liveai", "osc", "tree"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    for spec in engine_store().specs():
        line = next(ln for ln in res.stdout.splitlines() if ln.startswith(spec.address + " "))
        assert spec.type_text() in line and spec.description in line


def test_bad_bind_address_and_busy_port_are_one_clear_line():
    res = subprocess.run([sys.executable, "-m", "liveai", "run", "--demo", "--no-projector",
                          "--seconds", "1", "--osc-port", "9000", "--osc-bind", "everywhere"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "everywhere" in res.stderr and "0.0.0.0" in res.stderr
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        res = subprocess.run([sys.executable, "-m", "liveai", "run", "--demo", "--no-projector",
                              "--seconds", "1", "--osc-port", str(port)],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert f"cannot listen for OSC on 127.0.0.1:{port}" in res.stderr.strip().splitlines()[-1]


# -- feedback -------------------------------------------------------------------------------------
def test_feedback_reaches_every_client_and_tablet_including_changes_from_elsewhere(
        server, oscdump):
    dump = oscdump()
    srv = server(feedback=[f"127.0.0.1:{dump.port}"])
    a, b = Peer(srv.port), Peer(srv.port)
    try:
        a.send(_msg("/liveai/master/intensity"))  # a query: a's value comes back to a only
        b.send(_msg("/liveai/master/intensity/norm", 0.5))
        wait_until(lambda: ("/liveai/master/intensity", [1.0]) in a.poll(), 10, "query reply")
        wait_until(lambda: srv.store.get("/liveai/master/intensity") == 0.5, 10, "b's change")
        # b's change reached a and the tablet; b gets it on the address it used, too
        wait_until(lambda: ("/liveai/master/intensity", [0.5]) in a.poll(), 10, "feedback to a")
        wait_until(lambda: ("/liveai/master/intensity/norm", [0.5]) in b.poll(), 10, "norm")
        wait_until(lambda: dump.seen("/liveai/master/intensity", "0.500000"), 10, "to the tablet")
        # a change made elsewhere (MIDI, the autopilot) is echoed to all of them
        srv.store.set("/liveai/scene/name", "tunnel", "autopilot")
        for peer in (a, b):
            wait_until(lambda p=peer: ("/liveai/scene/name", ["tunnel"]) in p.poll(), 10,
                       "the autopilot's change")
        wait_until(lambda: dump.seen("/liveai/scene/name", '"tunnel"'), 10, "tablet: scene")
        # a refused value snaps the sender's fader back to the current one
        a.send(_msg("/liveai/master/intensity", 3.0))
        wait_until(lambda: a.poll().count(("/liveai/master/intensity", [0.5])) >= 2, 10,
                   "snap back")
    finally:
        a.close()
        b.close()
    assert srv.stats()["drops"]["out_of_range"] == 1


# -- patterns, bundles, coalescing ---------------------------------------------------------------
def test_address_patterns_match_part_by_part():
    addresses = engine_store().addresses(with_norm=True)
    assert expand("/liveai/master/*", addresses) == [
        "/liveai/master/blackout", "/liveai/master/freeze", "/liveai/master/intensity"]
    assert expand("/liveai/master/{blackout,freeze}", addresses) == [
        "/liveai/master/blackout", "/liveai/master/freeze"]
    assert expand("/liveai/tempo/nudge/????", addresses) == ["/liveai/tempo/nudge/back"]
    assert expand("/liveai/scene/[n-p]*", addresses) == [
        "/liveai/scene/name", "/liveai/scene/next", "/liveai/scene/previous"]
    assert expand("/liveai/scene/[!n]*", addresses) == ["/liveai/scene/index",
                                                        "/liveai/scene/previous"]
    assert expand("/liveai/*/intensity/norm", addresses) == ["/liveai/master/intensity/norm"]
    assert expand("/liveai/*", addresses) == []  # * never crosses a /
    assert expand("/*/*/*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", ["/x/y/" + "a" * 60]) == []
    for bad in ("/liveai/[ab", "/liveai/{a,b", "liveai/x", "/a]", "/" + "*" * 600):
        with pytest.raises(PatternError):
            expand(bad, addresses)


def test_patterns_and_bundles_over_udp(server):
    srv = server()
    peer = Peer(srv.port)
    inner = OscBundleBuilder(IMMEDIATELY)
    inner.add_content(OscMessageBuilder("/liveai/scene/next").build())
    inner.add_content(_message("/liveai/scene/index", 5))
    outer = OscBundleBuilder(IMMEDIATELY)
    outer.add_content(_message("/liveai/scene/index", 3))
    outer.add_content(inner.build())
    outer.add_content(_message("/liveai/mixer/{bypass,lock}", True))
    outer.add_content(_message("/liveai/tempo/nudge/*"))
    try:
        peer.send(outer.build().dgram)
        wait_until(lambda: srv.store.get("/liveai/mixer/lock"), 10, "the bundle")
    finally:
        peer.close()
    store = srv.store
    assert store.get("/liveai/scene/index") == 5  # the last value, after the trigger
    assert store.get("/liveai/scene/next") == 1
    assert store.get("/liveai/mixer/bypass") is True
    assert store.get("/liveai/tempo/nudge/back") == 1 == store.get("/liveai/tempo/nudge/forward")
    assert srv.stats()["messages"] == 5 and srv.stats()["dropped"] == 0


def test_a_batch_coalesces_values_but_keeps_every_trigger():
    store = engine_store()
    changes = []
    store.subscribe(lambda a, v, s: changes.append((a, v)))
    dispatcher = OscDispatcher(store, ["127.0.0.0/8"])
    sender = ("127.0.0.1", 5000)
    batch = [(_msg("/liveai/master/intensity", i / 1000.0), sender) for i in range(1000)]
    batch += [(_msg("/liveai/tempo/tap"), sender)] * 7
    batch += [(_msg("/liveai/master/intensity", 0.125), sender)]
    dispatcher.handle_batch(batch)
    assert store.get("/liveai/master/intensity") == 0.125
    assert store.get("/liveai/tempo/tap") == 7
    assert changes.count(("/liveai/master/intensity", 0.125)) == 1
    assert len([c for c in changes if c[0] == "/liveai/master/intensity"]) == 1
    assert dispatcher.stats["coalesced"] == 1000
    assert dispatcher.stats["accepted"] == 1008


def _bundle_at(wall_s: float, *messages: OscMessage) -> bytes:
    b = OscBundleBuilder(wall_s)
    for m in messages:
        b.add_content(m)
    return b.build().dgram


def test_time_tagged_bundles_wait_for_their_moment():
    store = engine_store()
    dispatcher = OscDispatcher(store, ["127.0.0.0/8"], bundle_max_delay_s=10.0)
    sender = ("127.0.0.1", 5000)
    wall = 1_800_000_000.0
    batch = [(_bundle_at(wall + 2.0, _message("/liveai/master/intensity", 0.25)), sender),
             (_bundle_at(wall + 1.0, _message("/liveai/master/intensity", 0.5),
                         _message("/liveai/master/blackout", True)), sender),
             (_bundle_at(wall - 3.0, _message("/liveai/tempo/nudge_ms", 20.0)), sender),
             (_bundle_at(wall + 3600.0, _message("/liveai/master/freeze", True)), sender)]
    dispatcher.handle_batch(batch, wall=wall)
    assert store.get("/liveai/tempo/nudge_ms") == 20.0  # a tag in the past: at once
    assert store.get("/liveai/master/freeze") is True  # an hour ahead: a wrong clock, at once
    assert dispatcher.stats["clock_ahead"] == 1 and dispatcher.stats["scheduled"] == 3
    assert store.get("/liveai/master/intensity") == 1.0 and not store.get(
        "/liveai/master/blackout")
    assert dispatcher.next_due_s == wall + 1.0
    dispatcher.run_due(wall + 0.999)
    assert store.get("/liveai/master/intensity") == 1.0  # not yet
    dispatcher.run_due(wall + 1.0)
    assert store.get("/liveai/master/intensity") == 0.5 and store.get("/liveai/master/blackout")
    dispatcher.run_due(wall + 5.0)
    assert store.get("/liveai/master/intensity") == 0.25 and dispatcher.next_due_s is None
    # bundle_max_delay_s = 0: nothing ever waits
    now_only = OscDispatcher(store, ["127.0.0.0/8"], bundle_max_delay_s=0.0)
    now_only.handle_batch([(_bundle_at(wall + 1.0, _message("/liveai/master/intensity", 0.75)),
                            sender)], wall=wall)
    assert store.get("/liveai/master/intensity") == 0.75


def test_a_time_tagged_bundle_over_udp_applies_no_earlier_than_its_tag(server):
    srv = server()
    applied: list[float] = []
    srv.store.subscribe(lambda a, v, s: applied.append(time.time())
                        if a == "/liveai/master/intensity" else None)
    peer = Peer(srv.port)
    try:
        tag = time.time() + 0.5
        peer.send(_bundle_at(tag, _message("/liveai/master/intensity", 0.3)))
        wait_until(lambda: srv.store.get("/liveai/master/intensity") == pytest.approx(0.3), 10,
                   "the bundle")
    finally:
        peer.close()
    assert applied and applied[0] >= tag - 0.002  # a lower bound: never flaky
    assert srv.dispatcher.stats["scheduled"] == 1


def test_silent_clients_are_forgotten():
    store = engine_store()
    dispatcher = OscDispatcher(store, ["127.0.0.0/8"], client_forget_s=60.0)
    dispatcher.handle_batch([(_msg("/liveai/master/intensity", 0.5), ("127.0.0.1", 5000))],
                            now=100.0)
    dispatcher.handle_batch([(_msg("/liveai/master/intensity", 0.6), ("127.0.0.1", 5001))],
                            now=150.0)
    assert dispatcher.forget_silent(now=159.0) == 0
    assert dispatcher.forget_silent(now=161.0) == 1
    assert [c.port for c in dispatcher.client_list] == [5001]


def test_a_fader_storm_ends_on_its_last_value(server):
    srv = server(rate_limit_per_s=0.0)
    heard = []
    srv.store.subscribe(lambda a, v, s: heard.append(v) if a.endswith("intensity") else None)
    peer = Peer(srv.port)
    values = np.linspace(0.0, 1.0, 20000)[::-1]  # ends on 0.0, the one value never set before
    try:
        for v in values:
            peer.send(_msg("/liveai/master/intensity", float(v)))

        def landed():
            if srv.store.get("/liveai/master/intensity") != 0.0:
                peer.send(_msg("/liveai/master/intensity", 0.0))  # if the kernel dropped it
                return False
            return True

        wait_until(landed, 30, "the last value of the storm", poll_s=0.1)
    finally:
        peer.close()
    assert heard[-1] == 0.0
    assert all(0.0 <= v <= 1.0 for v in heard)
    s = srv.stats()
    assert s["messages"] == s["accepted"] and s["dropped"] == 0


# -- security -------------------------------------------------------------------------------------
def test_senders_outside_the_allowlist_are_dropped(server):
    srv = server(allow=["10.0.0.0/8"])
    oscsend(srv.port, "/liveai/master/blackout", "T")
    wait_until(lambda: srv.stats()["drops"]["not_allowed"] >= 1, 10, "the drop")
    assert srv.store.get("/liveai/master/blackout") is False
    assert srv.stats()["clients"] == 0  # and it gets no feedback


def test_one_sender_is_rate_limited(server):
    srv = server(rate_limit_per_s=5.0)
    peer = Peer(srv.port)
    try:
        for _ in range(300):
            peer.send(_msg("/liveai/tempo/tap", 1))
        wait_until(lambda: srv.stats()["datagrams"] >= 250, 10, "the datagrams")
    finally:
        peer.close()
    s = srv.stats()
    assert s["drops"]["rate_limited"] > 0
    assert srv.store.get("/liveai/tempo/tap") == s["datagrams"] - s["drops"]["rate_limited"]


def test_bundles_do_not_get_round_the_rate_limit(server):
    srv = server(rate_limit_per_s=20.0)
    bundle = OscBundleBuilder(IMMEDIATELY)
    for _ in range(50):
        bundle.add_content(_message("/liveai/tempo/tap", 1))
    peer = Peer(srv.port)
    try:
        peer.send(bundle.build().dgram)  # 50 messages: more than a second's worth
        peer.send(_msg("/liveai/tempo/resync"))
        wait_until(lambda: srv.stats()["datagrams"] == 2, 10, "both datagrams")
    finally:
        peer.close()
    assert srv.stats()["drops"]["rate_limited"] == 1
    assert srv.store.get("/liveai/tempo/tap") == 0
    assert srv.store.get("/liveai/tempo/resync") == 1


# -- the fuzz test --------------------------------------------------------------------------------
def _fuzz_datagrams(rng: np.random.Generator, n: int, store: ParameterStore) -> list[bytes]:
    addresses = store.addresses(with_norm=True)
    valid = []
    weird_values = [math.nan, math.inf, -math.inf, 1e300, -1e300, 2**31 - 1, -2**31, 2**62,
                    "", "nan", "1e999", "x" * 400, "\x00", b"\xff" * 9, True, False, None,
                    [1.0, 2.0], 0.5, 1, 0, -1, 100, 255, 256]
    for a in addresses:
        valid.append(_msg(a))
        for v in weird_values:
            try:
                valid.append(_msg(a, v))
            except Exception:  # a value python-osc cannot encode
                pass
        valid.append(_msg(a, 0.5, 0.5, 0.5))
    for pattern in ("/liveai/*/*", "/liveai/{master,mixer}/*", "/liveai/[", "/liveai/{",
                    "/liveai/*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "/liveai//x", "/liveai/?",
                    "/liveai/" + "[a-z]" * 50, "/liveai/master/[]", "/liveai/]"):
        valid.append(_msg(pattern, 1.0))
        valid.append(_msg(pattern, math.nan))
    out: list[bytes] = []
    kinds = rng.integers(0, 7, size=n).tolist()
    # Drawn up front: one generator call per datagram would take longer than the server.
    pick = rng.integers(0, len(valid), size=n).tolist()
    cut = rng.random(size=n).tolist()
    noise = rng.bytes(n * 256)
    for i, kind in enumerate(kinds):
        if kind == 0:  # random bytes
            out.append(noise[i * 256 : i * 256 + int(cut[i] * 200)])
        elif kind == 1:  # a valid-looking message cut short
            d = valid[pick[i]]
            out.append(d[: int(cut[i] * len(d))])
        elif kind == 2:  # bytes flipped
            d = bytearray(valid[pick[i]])
            for j in range(1 + i % 3):
                d[int(noise[i * 256 + 2 * j] / 256 * len(d))] = noise[i * 256 + 2 * j + 1]
            out.append(bytes(d))
        elif kind == 3:  # a bundle with a lying element size
            inner = valid[int(rng.integers(len(valid)))]
            size = int(rng.choice([len(inner), len(inner) + 4, 2**31 - 1, 0, 3]))
            out.append(b"#bundle\x00" + rng.bytes(8) + struct.pack(">i", size) + inner)
        elif kind == 4:  # valid framing, hostile or out-of-range content
            out.append(valid[pick[i]])
        elif kind == 5:  # a message with garbage type tags
            tags = "".join("ifsbTFNIhdtcmr[]"[b % 16] for b in noise[i * 256 : i * 256 + 1 + i % 8])
            out.append(b"/liveai/master/intensity\x00\x00\x00\x00," + tags.encode()
                       + b"\x00" * (4 - (len(tags) + 1) % 4) + rng.bytes(int(rng.integers(0, 16))))
        else:  # a bundle nested deeper than Python's recursion limit
            depth = int(rng.integers(1, 3000)) if rng.random() < 0.01 else int(rng.integers(1, 5))
            d = _msg("/liveai/master/intensity", float(rng.uniform(-1, 2)))
            for _ in range(depth):
                d = b"#bundle\x00" + b"\x00" * 7 + b"\x01" + struct.pack(">i", len(d)) + d
                if len(d) > 65000:
                    break
            out.append(d)
    return out


def test_fuzz_100k_bad_datagrams_leave_the_server_up_and_every_value_in_range(server, rng):
    store = engine_store()
    store.register(ParamSpec("/liveai/test/vector", ParamType.FLOAT, (0.0, 0.0), -1.0, 1.0,
                             size=2))
    violations = []

    def check(address, value, source):
        spec = store.spec(address)
        if spec.kind != ParamType.TRIGGER and coerce(spec, value) != value:
            violations.append((address, value))

    store.subscribe(check)
    srv = server(store, rate_limit_per_s=0.0)
    # Chunks the kernel can hold whole (Linux caps the buffer at net.core.rmem_max, often
    # ~200 kB): about 2 kB of buffer per small datagram, with room for the odd 64 kB one.
    n_total = 100_000
    chunk = max(50, min(1000, (srv.receive_buffer_bytes - 131072) // 2048))
    datagrams = _fuzz_datagrams(rng, n_total, store)
    fuzzer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fuzzer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    try:
        for k in range(0, n_total, chunk):
            for d in datagrams[k : k + chunk]:
                fuzzer.sendto(d, ("127.0.0.1", srv.port))
            # Pace by a valid message: the server answers it after the chunk (one ordered
            # thread), and is still answering.
            marker = f"sync-{k}"

            def synced(marker=marker):
                if store.get("/liveai/scene/name") == marker:
                    return True
                fuzzer.sendto(_msg("/liveai/scene/name", marker), ("127.0.0.1", srv.port))
                return False

            wait_until(synced, 20, f"the server to answer after datagram {k}", poll_s=0.005)
    finally:
        fuzzer.close()
    s = srv.stats()
    assert srv.alive
    assert s["datagrams"] >= 0.9 * n_total, s  # loopback may drop a few under the burst
    assert violations == []
    assert _all_in_range(store) == []
    out = np.zeros(store.snapshot.capacity)
    assert store.snapshot.read(out) >= 0 and np.all(np.isfinite(out))
    drops = s["drops"]
    assert drops["internal_error"] == 0
    for reason in ("malformed", "bad_address", "unknown_address", "bad_type", "not_finite",
                   "out_of_range"):
        assert drops[reason] > 0, (reason, drops)
    assert s["datagrams"] == s["packets"] + drops["malformed"]  # every datagram accounted for
    message_drops = sum(drops[r] for r in drops if r not in ("malformed", "not_allowed",
                                                             "rate_limited"))
    assert s["messages"] == s["accepted"] + s["queries"] + message_drops
    # still answering: a valid change with feedback to a fresh client
    peer = Peer(srv.port)
    try:
        peer.send(_msg("/liveai/master/intensity", 0.625))
        wait_until(lambda: ("/liveai/master/intensity", [0.625]) in peer.poll(), 10,
                   "feedback after the fuzz")
    finally:
        peer.close()


def test_bench_control_measures_every_row():
    from liveai.control.bench import bench_control, measure_control

    rows = measure_control(messages=2000, latency_samples=20)
    assert len(rows) == 3
    for row in rows:
        assert row.arrived > 0 and row.rate_per_s > 0, row
        assert row.latency_ms.size == 20 and np.all(row.latency_ms > 0), row
    assert "coalesced" in rows[2].notes
    assert any("msg/s" in line for line in bench_control(messages=200, latency_samples=5))


def test_osc_changes_the_projectors_scene_and_tablets_hear_which(tmp_path, oscdump):
    """The whole loop: oscsend -> store -> shared memory -> projector (EGL) -> its status slot ->
    engine -> /liveai/scene/index feedback to the tablet; blackout reaches the projector too."""
    dump = oscdump()
    port = _free_udp_port()
    scenes = []
    for name, rgb in (("red", "1.0, 0.0, 0.0"), ("green", "0.0, 1.0, 0.0"),
                      ("blue", "0.0, 0.0, 1.0")):
        f = tmp_path / f"{name}.fs"
        f.write_text('/*{"INPUTS": []}*/\n' f"void main() {{ gl_FragColor = vec4({rgb}, 1.0); }}\n")
        scenes.append(f'[[visuals.scenes]]\nfile = "{f}"\n')
    preset = tmp_path / "show.toml"
    preset.write_text(f'[control]\nfeedback = ["127.0.0.1:{dump.port}"]\n'
                      "[projector]\nwidth = 160\nheight = 90\nfps = 20\n"
                      "[visuals.autopilot]\nenabled = false\n"
                      '[visuals.transition]\nkind = "cut"\nquantize = "none"\n' + "".join(scenes))
    engine = subprocess.Popen(
        [sys.executable, "-m", "liveai", "run", "--preset", str(preset), "--headless",
         "--demo", "--seconds", "100", "--osc-port", str(port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def index_lines(since):
            return [int(ln[3]) for ln in dump.lines[since:] if ln[1] == "/liveai/scene/index"]

        # Only the projector reports scenes for a trigger: resend until it is up and answers.
        def alive():
            oscsend(port, "/liveai/scene/next")
            return index_lines(0)
        k = wait_until(alive, 60, "the projector answering /liveai/scene/next", poll_s=1.0)[-1]
        time.sleep(1.0)
        k = index_lines(0)[-1]

        def shows(address, args, index):
            mark = len(dump.lines)
            oscsend(port, address, *args)
            wait_until(lambda: index in index_lines(mark), 30, f"{address} -> scene {index}")

        shows("/liveai/scene/previous", (), (k - 1) % 3)
        names = ["red", "green", "blue"]
        shows("/liveai/scene/name", ("s", names[(k + 1) % 3]), (k + 1) % 3)
        shows("/liveai/scene/index", ("i", (k - 1) % 3), (k - 1) % 3)
        oscsend(port, "/liveai/scene/name", "s", "no-such-scene")  # logged, nothing changes
        time.sleep(1.0)
    finally:
        engine.send_signal(signal.SIGTERM)
        _out, err = engine.communicate(timeout=30)
    assert engine.returncode == 0, err[-3000:]
    assert "no scene called 'no-such-scene'" in err


def test_feedback_tablets_and_the_client_count_are_parameters(server):
    """/liveai/osc/feedback adds tablets live (IP addresses in control.allow only)."""
    srv = server(allow=["127.0.0.0/8"])
    tablet = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tablet.bind(("127.0.0.1", 0))
    tablet.settimeout(5.0)
    peer = Peer(srv.port)
    try:
        port = tablet.getsockname()[1]
        peer.send(_msg("/liveai/osc/feedback",
                       f"127.0.0.1:{port}, localhost:9, 10.1.2.3:9000, nonsense"))
        wait_until(lambda: srv.feedback_targets == [("127.0.0.1", port)], 10, "the tablet")
        assert srv.store.get("/liveai/osc/clients") == 1  # the peer that sent it
        srv.store.set("/liveai/master/blackout", True, source="test")
        while True:  # the tablet never sent anything, yet it follows
            m = OscMessage(tablet.recv(65535))
            if m.address == "/liveai/master/blackout":
                assert m.params == [1]
                break
    finally:
        peer.close()
        tablet.close()
    assert srv.set_feedback("") == [] and srv.feedback_targets == []
    problems = srv.set_feedback("localhost:9, 10.1.2.3:9000")
    assert any("localhost" in p for p in problems) and any("control.allow" in p for p in problems)


def test_read_only_estimates_cannot_be_set_from_outside():
    """A desk cannot fake the mixer's crowd level (or any estimate liveai publishes)."""
    store = engine_store()
    dispatcher = OscDispatcher(store, ["127.0.0.0/8"])
    before = store.get("/liveai/mixer/crowd_level_db")
    replies = dispatcher.handle_batch([(_msg("/liveai/mixer/crowd_level_db", -10.0),
                                        ("127.0.0.1", 5000))])
    assert store.get("/liveai/mixer/crowd_level_db") == before
    assert dispatcher.drops["bad_value"] == 1
    assert OscMessage(replies[0][0]).params == [pytest.approx(before)]  # snaps back
    assert store.set("/liveai/mixer/crowd_level_db", -30.0, source="mixer").ok  # liveai can
    assert store.spec("/liveai/mixer/crowd_level_db").read_only
    assert not store.spec("/liveai/master/intensity").read_only
