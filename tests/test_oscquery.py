"""OSCQuery: the namespace over HTTP, LISTEN/IGNORE over a websocket, and a headless engine."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest
from conftest import ROOT, wait_until
from pythonosc.osc_message import OscMessage
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from liveai.control.oscquery import OscQueryServer
from liveai.params import ParamSpec, ParamType, engine_store

INTENSITY = "/liveai/master/intensity"


@pytest.fixture
def oscquery():
    servers: list[OscQueryServer] = []

    def start(store=None, **kwargs) -> OscQueryServer:
        srv = OscQueryServer(store or engine_store(), osc_port=9000, advertise=False, **kwargs)
        srv.start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()


def _get(srv: OscQueryServer, target: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}{target}", timeout=5) as r:
            body = r.read()
            return r.status, json.loads(body) if body else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_namespace_lists_every_parameter_with_type_range_value_access(oscquery):
    store = engine_store()
    store.register(ParamSpec("/liveai/scene/x/tint", ParamType.FLOAT, (0.1, 0.2, 0.3, 1.0),
                             0.0, 1.0, size=4, description="tint"))
    srv = oscquery(store)
    status, root = _get(srv, "/")
    assert status == 200 and root["FULL_PATH"] == "/"
    master = root["CONTENTS"]["liveai"]["CONTENTS"]["master"]
    assert master["FULL_PATH"] == "/liveai/master"
    # every parameter is in the tree, at its address
    for spec in store.specs():
        node = root
        for part in spec.address.strip("/").split("/"):
            node = node["CONTENTS"][part]
        assert node["FULL_PATH"] == spec.address and node["DESCRIPTION"] == spec.description

    status, node = _get(srv, INTENSITY)
    assert status == 200
    assert node == {"FULL_PATH": INTENSITY, "TYPE": "f", "VALUE": [1.0], "ACCESS": 3,
                    "RANGE": [{"MIN": 0.0, "MAX": 1.0}],
                    "DESCRIPTION": "overall brightness of the visuals"}
    _, node = _get(srv, "/liveai/master/blackout")
    assert node["TYPE"] == "T" and node["VALUE"] == [False] and node["ACCESS"] == 3
    _, node = _get(srv, "/liveai/transition/unit")
    assert node["TYPE"] == "s" and node["VALUE"] == ["beats"]
    assert node["RANGE"] == [{"VALS": ["beats", "seconds"]}]
    _, node = _get(srv, "/liveai/tempo/tap")
    assert node["TYPE"] == "N" and node["ACCESS"] == 2 and "VALUE" not in node
    _, node = _get(srv, "/liveai/mixer/crowd_level_db")
    assert node["ACCESS"] == 1 and node["UNIT"] == ["dB"]
    _, node = _get(srv, "/liveai/scene/x/tint")
    assert node["TYPE"] == "ffff" and node["VALUE"] == pytest.approx([0.1, 0.2, 0.3, 1.0])
    assert len(node["RANGE"]) == 4

    store.set(INTENSITY, 0.25)
    assert _get(srv, INTENSITY + "?VALUE") == (200, {"VALUE": [0.25]})
    assert _get(srv, "/liveai/tempo/tap?VALUE") == (204, None)
    assert _get(srv, INTENSITY + "?BOGUS")[0] == 400
    status, body = _get(srv, "/liveai/no/such")
    assert status == 404 and "error" in body
    assert _get(srv, "/liveai/master/intensity/deeper")[0] == 404

    status, info = _get(srv, "/?HOST_INFO")
    assert status == 200 and info["NAME"] == "liveai" and info["OSC_PORT"] == 9000
    assert info["OSC_TRANSPORT"] == "UDP" and info["WS_PORT"] == srv.port
    assert info["EXTENSIONS"]["LISTEN"] is True and info["EXTENSIONS"]["VALUE"] is True


def test_a_client_outside_the_allowlist_is_refused(oscquery):
    srv = oscquery(allow=["10.0.0.0/8"])
    assert _get(srv, "/")[0] == 403


def test_listen_streams_changes_as_osc_and_ignore_stops_them(oscquery):
    store = engine_store()
    srv = oscquery(store)
    with connect(f"ws://127.0.0.1:{srv.port}/", open_timeout=5) as ws:
        # malformed messages are ignored; the connection and the server stay up
        for bad in ("not json", "[1, 2]", '{"COMMAND": "EXPLODE", "DATA": "/"}',
                    '{"COMMAND": "LISTEN", "DATA": 5}', '{"COMMAND": "LISTEN", "DATA": "/x"}',
                    b"\x00\x01binary"):
            ws.send(bad)
        ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": INTENSITY}))
        ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/liveai/master/blackout"}))
        wait_until(lambda: srv.stats["ws_messages"] == 8, 5, "commands handled")
        assert srv.stats["ws_bad"] == 6

        writer = threading.Thread(target=store.set, args=(INTENSITY, 0.5, "test"))
        writer.start()
        writer.join()
        msg = OscMessage(ws.recv(timeout=5))
        assert msg.address == INTENSITY and msg.params == [0.5]
        store.set("/liveai/master/blackout", True)
        msg = OscMessage(ws.recv(timeout=5))
        assert msg.address == "/liveai/master/blackout" and msg.params == [True]

        store.set("/liveai/master/freeze", True)  # not listened to: nothing comes
        ws.send(json.dumps({"COMMAND": "IGNORE", "DATA": INTENSITY}))
        wait_until(lambda: srv.stats["ws_messages"] == 9, 5, "IGNORE handled")
        store.set(INTENSITY, 0.75)
        store.set("/liveai/master/blackout", False)
        msg = OscMessage(ws.recv(timeout=5))
        assert msg.address == "/liveai/master/blackout" and msg.params == [False]
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)

        # a scene's parameters appear: the client is told to reload the namespace
        store.register(ParamSpec("/liveai/scene/y/size", ParamType.FLOAT, 0.5, 0.0, 1.0))
        assert json.loads(ws.recv(timeout=5)) == {"COMMAND": "PATH_CHANGED", "DATA": "/"}
    # the server still answers after all that
    assert _get(srv, INTENSITY + "?VALUE") == (200, {"VALUE": [0.75]})
    assert srv.alive


def test_a_storm_of_changes_reaches_a_listener_with_the_latest_value_last(oscquery):
    store = engine_store()
    srv = oscquery(store)
    with connect(f"ws://127.0.0.1:{srv.port}/", open_timeout=5) as ws:
        ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": INTENSITY}))
        wait_until(lambda: INTENSITY in srv._listened, 5, "LISTEN handled")
        for i in range(1, 2001):
            store.set(INTENSITY, i / 2000)
        last = None
        while last != 1.0:
            last = OscMessage(ws.recv(timeout=5)).params[0]


def test_stop_closes_websockets_and_the_port(oscquery):
    srv = OscQueryServer(engine_store(), advertise=False)
    srv.start()
    with connect(f"ws://127.0.0.1:{srv.port}/", open_timeout=5) as ws:
        srv.stop()
        assert not srv.alive
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()


def test_zeroconf_advertises_both_services_on_loopback():
    zeroconf = pytest.importorskip("zeroconf")
    srv = OscQueryServer(engine_store(), osc_port=9000, name="liveai-test")
    srv.start()
    try:
        try:
            wait_until(lambda: srv._zeroconf is not None, 15, "zeroconf registration")
        except AssertionError:
            pytest.skip("no multicast on loopback here: advertising is best effort")
        zc = zeroconf.Zeroconf(interfaces=["127.0.0.1"])
        try:
            info = zc.get_service_info("_oscjson._tcp.local.",
                                       "liveai-test._oscjson._tcp.local.", timeout=5000)
            assert info is not None and info.port == srv.port
            info = zc.get_service_info("_osc._udp.local.", "liveai-test._osc._udp.local.",
                                       timeout=5000)
            assert info is not None and info.port == 9000
        finally:
            zc.close()
    finally:
        srv.stop()


def test_a_busy_port_is_a_control_error():
    from liveai.control.osc_in import ControlError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        srv = OscQueryServer(engine_store(), port=busy.getsockname()[1], advertise=False)
        with pytest.raises(ControlError, match="cannot serve OSCQuery"):
            srv.start()


def test_headless_engine_serves_oscquery_next_to_osc():
    osc_port, query_port = _free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_STREAM)
    engine = subprocess.Popen(
        [sys.executable, "-m", "liveai", "run", "--headless", "--no-projector", "--demo",
         "--seconds", "30", "--osc-port", str(osc_port), "--oscquery-port", str(query_port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{query_port}"
    try:
        def host_info():
            try:
                with urllib.request.urlopen(url + "/?HOST_INFO", timeout=2) as r:
                    return json.loads(r.read())
            except OSError:
                return None

        info = wait_until(host_info, 60, "OSCQuery HOST_INFO answered")
        assert info["OSC_PORT"] == osc_port and info["OSC_TRANSPORT"] == "UDP"
        with urllib.request.urlopen(url + INTENSITY, timeout=5) as r:
            assert json.loads(r.read())["TYPE"] == "f"
    finally:
        engine.send_signal(signal.SIGTERM)
        out, err = engine.communicate(timeout=30)
    assert engine.returncode == 0, err[-3000:]
    assert any(ln.startswith("OSCQuery:") for ln in out.splitlines()), out[-2000:]
