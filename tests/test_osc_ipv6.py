"""IPv6: OSC in (dual-stack), feedback, OSCQuery and OSC out over ::1, next to IPv4 peers."""

from __future__ import annotations

import dataclasses
import json
import socket
import urllib.request

import pytest
from conftest import wait_until
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from liveai.config import ControlConfig, ShowConfig, build, split_host_port
from liveai.control.osc_in import OscDispatcher, OscServer, sender_ip
from liveai.control.osc_out import FeatureSender
from liveai.control.oscquery import OscQueryServer
from liveai.errors import ConfigError
from liveai.frame import SharedRecord, new_frame
from liveai.params import engine_store

pytestmark = pytest.mark.timeout(60)


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not _has_ipv6_loopback(),
                                reason="this machine has no IPv6 loopback (::1)")


def _msg(address: str, *args) -> bytes:
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def test_addresses_with_brackets_and_clear_errors():
    assert split_host_port("[::1]:9000") == ("::1", 9000)
    assert split_host_port("192.168.1.5:8000") == ("192.168.1.5", 8000)
    assert split_host_port("::1:9000") is None  # ambiguous without brackets
    assert split_host_port("[::1]") is None
    cfg = build(ShowConfig, {"control": {"osc_bind": "::", "feedback": ["[fd00::20]:9001"]}},
                "t.toml")
    cfg.validate("t.toml")
    assert cfg.control.osc_bind == "::"
    with pytest.raises(ConfigError, match=r"\[fd00::20\]:9000"):
        build(ShowConfig, {"control": {"feedback": ["fd00::20:9001"]}}, "t.toml").validate("t")
    with pytest.raises(ConfigError, match="not an IP address"):
        build(ShowConfig, {"control": {"osc_bind": "everywhere"}}, "t.toml").validate("t")


def test_ipv4_senders_on_a_dual_stack_socket_count_as_ipv4():
    assert str(sender_ip("::ffff:192.168.1.7")) == "192.168.1.7"
    assert str(sender_ip("fe80::1%eth0")) == "fe80::1"
    store = engine_store()
    dispatcher = OscDispatcher(store, ["192.168.0.0/16"])
    dispatcher.handle_batch([(_msg("/liveai/master/intensity", 0.5), ("::ffff:192.168.1.7", 1))])
    assert store.get("/liveai/master/intensity") == 0.5
    dispatcher.handle_batch([(_msg("/liveai/master/intensity", 0.25), ("fd00::7", 1))])
    assert store.get("/liveai/master/intensity") == 0.5  # not in the (IPv4-only) allowlist
    assert dispatcher.drops["not_allowed"] == 1


@needs_ipv6
def test_osc_on_every_interface_hears_ipv6_and_ipv4_and_answers_both():
    srv = OscServer(engine_store(), dataclasses.replace(ControlConfig(), osc_port=0,
                                                        osc_bind="::"))
    srv.start()
    peers = []
    try:
        for family, host in ((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
            s = socket.socket(family, socket.SOCK_DGRAM)
            s.bind((host, 0))
            s.settimeout(5.0)
            peers.append((s, host))
        for i, (s, host) in enumerate(peers):
            s.sendto(_msg("/liveai/master/intensity", 0.25 * (i + 1)), (host, srv.port))
            wait_until(lambda i=i: srv.store.get("/liveai/master/intensity") == 0.25 * (i + 1),
                       10, f"a value from {host}")
        # Both peers are clients now: a change made elsewhere reaches both.
        srv.store.set("/liveai/master/blackout", True, source="test")
        for s, host in peers:
            while True:
                m = OscMessage(s.recv(65535))
                if m.address == "/liveai/master/blackout":
                    assert m.params == [1], host
                    break
        assert srv.stats()["clients"] == 2
    finally:
        srv.stop()
        for s, _ in peers:
            s.close()


@needs_ipv6
def test_oscquery_on_ipv6_answers_ipv6_and_ipv4_clients():
    srv = OscQueryServer(engine_store(), 0, "::", 9000, ["127.0.0.0/8", "::1/128"],
                         advertise=False)
    srv.start()
    try:
        for host in ("[::1]", "127.0.0.1"):
            url = f"http://{host}:{srv.port}/liveai/master/intensity"
            with urllib.request.urlopen(url, timeout=5) as r:
                assert json.loads(r.read())["FULL_PATH"] == "/liveai/master/intensity"
    finally:
        srv.stop()


@needs_ipv6
def test_features_go_out_to_an_ipv6_target():
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind(("::1", 0))
    sock.settimeout(5.0)
    record = SharedRecord.create()
    record.publish(new_frame())
    sender = FeatureSender(record, [f"[::1]:{sock.getsockname()[1]}"], rate_hz=50.0)
    sender.start()
    try:
        seen = {OscMessage(sock.recv(65535)).address for _ in range(20)}
    finally:
        sender.stop()
        record.close()
        sock.close()
    assert "/liveai/bpm" in seen
