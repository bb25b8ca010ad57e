"""OSCQuery: the parameter namespace as JSON over HTTP, value streams over a websocket.

Follows Vidvox's OSCQuery proposal (see ``control-conventions.md``):

- ``GET /`` (or any path) answers the node as JSON: every node has ``FULL_PATH``; containers
  have ``CONTENTS`` (name → node); parameters have ``TYPE`` (OSC type tags), ``VALUE``,
  ``RANGE``, ``ACCESS``, ``DESCRIPTION`` and ``UNIT`` where they have a unit;
- ``GET /path?ATTR`` answers ``{"ATTR": ...}`` (204 when the node has no such attribute);
- ``GET /?HOST_INFO`` names the server, its OSC port and transport, and the extensions;
- a websocket on the same host and port: the client sends ``{"COMMAND": "LISTEN", "DATA":
  path}`` (or ``"IGNORE"``) and receives every change of that parameter as a binary OSC
  message; ``{"COMMAND": "PATH_CHANGED", "DATA": "/"}`` is sent when parameters are added or
  removed (a scene was loaded), so the client reloads the namespace.

Types: float ``f`` (one per component of a vector), int ``i``, bool ``T`` (values stream as
``T``/``F``), choice and string ``s`` (a choice's ``RANGE`` lists its ``VALS``), trigger ``N``
(write-only, ``ACCESS`` 2, no ``VALUE``). Parameters whose description starts with
``read-only:`` (the mixer's estimates) have ``ACCESS`` 1; the rest 3.

HTTP and websocket share one asyncio loop on one daemon thread (the ``websockets`` package;
plain HTTP requests are answered from its ``process_request`` hook). Store listeners only hand
changes to that loop (``call_soon_threadsafe``); each websocket client has a pending map, so a
slow client gets the latest value of each parameter and never holds up the store.

Advertising with zeroconf (``_oscjson._tcp`` and ``_osc._udp``) is best effort: when the
``zeroconf`` package is missing or multicast does not work, one line is logged and the server
runs without it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import threading
import time
from typing import Any
from urllib.parse import unquote, urlsplit

from pythonosc.osc_message_builder import OscMessageBuilder
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from liveai.control.osc_in import ControlError, in_networks
from liveai.log import RateLimitedLogger
from liveai.params import ROOT, ParameterError, ParameterStore, ParamSpec, ParamType

log = logging.getLogger(__name__)

#: Websocket clients served at once at most.
MAX_CLIENTS = 64
#: Largest websocket message accepted from a client (a LISTEN is a few dozen bytes).
MAX_WS_MESSAGE_BYTES = 65536
ATTRIBUTES = ("FULL_PATH", "CONTENTS", "TYPE", "VALUE", "RANGE", "ACCESS", "DESCRIPTION",
              "UNIT", "CRITICAL")
EXTENSIONS = {"ACCESS": True, "VALUE": True, "RANGE": True, "DESCRIPTION": True, "UNIT": True,
              "TAGS": False, "EXTENDED_TYPE": False, "CLIPMODE": False, "CRITICAL": False,
              "LISTEN": True, "PATH_CHANGED": True, "PATH_ADDED": False, "PATH_REMOVED": False,
              "PATH_RENAMED": False, "HTML": False}


def type_tags(spec: ParamSpec) -> str:
    """The OSCQuery ``TYPE`` of a parameter."""
    return {ParamType.FLOAT: "f" * spec.size, ParamType.INT: "i", ParamType.BOOL: "T",
            ParamType.CHOICE: "s", ParamType.STRING: "s", ParamType.TRIGGER: "N"}[spec.kind]


def access(spec: ParamSpec) -> int:
    """``ACCESS``: 1 read-only (estimates), 2 write-only (triggers), 3 both."""
    if spec.kind == ParamType.TRIGGER:
        return 2
    return 1 if spec.read_only else 3


def value_list(spec: ParamSpec, value: Any) -> list[Any]:
    """``VALUE``: one entry per type tag."""
    if spec.kind == ParamType.FLOAT:
        return [float(v) for v in value] if spec.size > 1 else [float(value)]
    if spec.kind == ParamType.INT:
        return [int(value)]
    if spec.kind == ParamType.BOOL:
        return [bool(value)]
    return [str(value)]


def param_node(spec: ParamSpec, value: Any) -> dict[str, Any]:
    """The JSON node of one parameter."""
    node: dict[str, Any] = {"FULL_PATH": spec.address, "TYPE": type_tags(spec),
                            "ACCESS": access(spec), "DESCRIPTION": spec.description}
    if spec.kind != ParamType.TRIGGER:
        node["VALUE"] = value_list(spec, value)
    if spec.kind in (ParamType.FLOAT, ParamType.INT) and spec.minimum is not None:
        node["RANGE"] = [{"MIN": spec.minimum, "MAX": spec.maximum}] * spec.size
    elif spec.kind == ParamType.CHOICE:
        node["RANGE"] = [{"VALS": list(spec.choices)}]
    if spec.unit:
        node["UNIT"] = [spec.unit] * spec.size
    return node


def encode_value(spec: ParamSpec, value: Any) -> bytes:
    """One OSC message with the value in the node's ``TYPE`` (bools as ``T``/``F``)."""
    b = OscMessageBuilder(address=spec.address)
    kind = spec.kind
    if kind == ParamType.FLOAT:
        for v in (value if spec.size > 1 else (value,)):
            b.add_arg(float(v), "f")
    elif kind == ParamType.INT:
        b.add_arg(int(value), "i")
    elif kind == ParamType.BOOL:
        b.add_arg(bool(value), "T" if value else "F")
    elif kind == ParamType.TRIGGER:
        b.add_arg(None, "N")
    else:
        b.add_arg(str(value), "s")
    return b.build().dgram


def build_tree(store: ParameterStore, path: str = "/") -> dict[str, Any] | None:
    """The node at ``path`` (a container or a parameter) with everything below it; None if none.

    Parameters
    ----------
    store : ParameterStore
    path : str
        ``/``, a container such as ``/liveai/master`` or a parameter's address.
    """
    path = "/" + path.strip("/") if path.strip("/") else "/"
    spec = store.spec(path)
    if spec is not None:
        return param_node(spec, store.get(spec.address))
    prefix = "" if path == "/" else path
    root: dict[str, Any] = {"FULL_PATH": path, "CONTENTS": {}}
    found = False
    for spec in store.specs():
        if not spec.address.startswith(prefix + "/"):
            continue
        try:
            value = store.get(spec.address)
        except ParameterError:  # removed since specs() was taken
            continue
        found = True
        parts = spec.address[len(prefix) + 1:].split("/")
        node = root
        full = prefix
        for part in parts[:-1]:
            full += "/" + part
            node = node["CONTENTS"].setdefault(part, {"FULL_PATH": full, "CONTENTS": {}})
        node["CONTENTS"][parts[-1]] = param_node(spec, value)
    if not found and path not in ("/", ROOT):
        return None
    return root


class OscQueryServer:
    """OSCQuery HTTP + websocket server over a :class:`ParameterStore`.

    Parameters
    ----------
    store : ParameterStore
    port : int
        TCP port (0: any free port; see :attr:`port` after :meth:`start`).
    bind : str
        Address to listen on (the OSC bind address; an IPv6 one serves IPv4 clients too).
    osc_port : int
        The UDP port OSC control listens on, for ``HOST_INFO`` (0: no OSC in).
    allow : list of str
        Client networks accepted (CIDR); others get 403.
    advertise : bool
        Announce ``_oscjson._tcp`` and ``_osc._udp`` with zeroconf (best effort).
    name : str
        ``HOST_INFO`` ``NAME`` and the zeroconf instance name.
    """

    def __init__(self, store: ParameterStore, port: int = 0, bind: str = "127.0.0.1",
                 osc_port: int = 0, allow: list[str] | None = None, advertise: bool = True,
                 name: str = "liveai") -> None:
        self.store = store
        self.requested_port = int(port)
        self.bind = bind
        self.port = 0
        self.osc_port = int(osc_port)
        self.networks = [ipaddress.ip_network(a, strict=False)
                         for a in (allow if allow is not None else ["0.0.0.0/0"])]
        self.advertise = advertise
        self.name = name
        self.stats = {"http_requests": 0, "ws_clients": 0, "ws_messages": 0, "ws_bad": 0,
                      "ws_sent": 0, "refused": 0}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._stop_event: asyncio.Event | None = None
        self._clients: dict[ServerConnection, _Client] = {}
        #: Addresses some client listens to (replaced whole, read by the store listener).
        self._listened: frozenset[str] = frozenset()
        self._rl = RateLimitedLogger(log, interval_s=5.0)
        self._zeroconf: Any = None
        self._zc_lock = threading.Lock()
        self._stopped = False
        self._ws_log = logging.getLogger(__name__ + ".websockets")
        # The library logs every request at INFO and a bad handshake at ERROR: keep warnings,
        # at most one per message per interval (a port scan must not flood the log).
        self._ws_log.setLevel(logging.WARNING)
        if not any(isinstance(f, _RateLimitFilter) for f in self._ws_log.filters):
            self._ws_log.addFilter(_RateLimitFilter())

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Bind and serve on a daemon thread.

        Raises
        ------
        ControlError
            When the port cannot be bound.
        """
        self._thread = threading.Thread(target=self._run, name="liveai-oscquery", daemon=True)
        self._thread.start()
        self._started.wait(10.0)
        if self._error is not None or not self.port:
            self._thread.join(timeout=2.0)
            exc = self._error
            detail = (exc.strerror if isinstance(exc, OSError) and exc.strerror else exc) \
                or "did not start"
            raise ControlError(f"cannot serve OSCQuery on {self.bind}:{self.requested_port}: "
                               f"{detail} (control.oscquery_port / --oscquery-port)") from None
        self.store.subscribe(self._on_change)
        self.store.subscribe_layout(self._on_layout)
        log.info("OSCQuery on http://%s:%d/ (%d parameters)", self.bind, self.port,
                 len(self.store))
        if not self.osc_port:
            log.warning("OSCQuery runs without OSC in (control.osc_port = 0): clients can read "
                        "and LISTEN but not set values")
        if self.advertise:
            threading.Thread(target=self._advertise, name="liveai-zeroconf", daemon=True).start()

    def stop(self) -> None:
        """Stop serving, close every websocket, withdraw the zeroconf records."""
        self.store.unsubscribe(self._on_change)
        self.store.unsubscribe_layout(self._on_layout)
        loop = self._loop
        if loop is not None and self._stop_event is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._stop_event.set)
            except RuntimeError:  # the loop has just ended
                pass
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        with self._zc_lock:
            self._stopped = True
            zc, self._zeroconf = self._zeroconf, None
        if zc is not None:
            try:
                zc.unregister_all_services()
                zc.close()
            except Exception:
                log.debug("zeroconf close failed", exc_info=True)

    @property
    def alive(self) -> bool:
        """True while the server thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # bind failure: start() reports it
            self._error = exc
        finally:
            self._started.set()
            loop.close()

    async def _main(self) -> None:
        self._stop_event = asyncio.Event()
        where: dict[str, Any] = {"host": self.bind, "port": self.requested_port}
        if ":" in self.bind:
            # asyncio makes IPv6 sockets IPv6-only; one dual-stack socket serves IPv4 too.
            sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.bind((self.bind, self.requested_port))
            except OSError:
                sock.close()
                raise
            where = {"sock": sock}
        async with serve(self._ws_handler, process_request=self._process_request,
                         max_size=MAX_WS_MESSAGE_BYTES, compression=None, logger=self._ws_log,
                         server_header="liveai", **where) as srv:
            self._server = srv
            self.port = srv.sockets[0].getsockname()[1]
            self._started.set()
            await self._stop_event.wait()
            for ws in list(self._clients):
                await ws.close()

    # -- HTTP ------------------------------------------------------------------------------------
    def _allowed(self, connection: ServerConnection) -> bool:
        try:
            host = connection.remote_address[0]
        except (TypeError, IndexError):
            return False
        return in_networks(host, self.networks)

    def _json(self, connection: ServerConnection, status: int, body: Any) -> Response:
        response = connection.respond(status, "")
        data = b"" if body is None else json.dumps(body).encode()
        response.body = data
        headers = Headers([(k, v) for k, v in response.headers.raw_items()
                           if k.lower() not in ("content-type", "content-length")])
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(len(data))
        headers["Access-Control-Allow-Origin"] = "*"
        response.headers = headers
        return response

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if not self._allowed(connection):
            self.stats["refused"] += 1
            self._rl.warning("refused", "OSCQuery from %s refused (not in control.allow)",
                             connection.remote_address[0])
            return self._json(connection, 403, {"error": "not allowed"})
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if len(self._clients) >= MAX_CLIENTS:
                return self._json(connection, 503, {"error": "too many websocket clients"})
            return None
        self.stats["http_requests"] += 1
        try:
            status, body = self.answer(request.path)
        except Exception:  # a bug must cost one request, not the server
            self._rl.warning("http", "OSCQuery request %r failed", request.path[:80],
                             exc_info=True)
            status, body = 500, {"error": "internal error"}
        return self._json(connection, status, body)

    def answer(self, target: str) -> tuple[int, Any]:
        """Status and JSON body for ``GET target`` (path with an optional ``?ATTRIBUTE``).

        Returns
        -------
        (int, object)
            200 and the node or ``{ATTR: value}``; 204 and None for an attribute the node does
            not have; 400 for an unknown attribute; 404 for an unknown path.
        """
        parts = urlsplit(target)
        path = unquote(parts.path) or "/"
        query = unquote(parts.query).split("&")[0].split("=")[0].upper()
        if query == "HOST_INFO":
            return 200, self.host_info()
        node = build_tree(self.store, path)
        if node is None:
            return 404, {"error": f"no such path: {path[:200]}"}
        if not query:
            return 200, node
        if query not in ATTRIBUTES:
            return 400, {"error": f"unknown attribute: {query[:40]}"}
        if query not in node:
            return 204, None
        return 200, {query: node[query]}

    def host_info(self) -> dict[str, Any]:
        """``HOST_INFO``: name, OSC transport and port, websocket port, extensions."""
        info: dict[str, Any] = {"NAME": self.name, "EXTENSIONS": dict(EXTENSIONS),
                                "WS_IP": self.bind, "WS_PORT": self.port}
        if self.osc_port:
            info.update(OSC_IP=self.bind, OSC_PORT=self.osc_port, OSC_TRANSPORT="UDP")
        return info

    # -- websocket -------------------------------------------------------------------------------
    async def _ws_handler(self, ws: ServerConnection) -> None:
        client = _Client()
        self._clients[ws] = client
        self.stats["ws_clients"] += 1
        sender = asyncio.create_task(self._sender(ws, client))
        try:
            async for message in ws:
                self.stats["ws_messages"] += 1
                self._command(ws, client, message)
        except Exception as exc:  # a broken connection ends this client only
            self._rl.info("wsend", "OSCQuery websocket %s ended: %s", ws.remote_address, exc)
        finally:
            sender.cancel()
            del self._clients[ws]
            self._update_listened()

    def _bad(self, ws: ServerConnection, detail: str) -> None:
        self.stats["ws_bad"] += 1
        self._rl.warning("wsbad", "OSCQuery websocket message from %s ignored: %s",
                         ws.remote_address, detail)

    def _command(self, ws: ServerConnection, client: _Client, message: str | bytes) -> None:
        if not isinstance(message, str):
            self._bad(ws, "binary message (OSC over the websocket is not taken)")
            return
        try:
            doc = json.loads(message)
        except ValueError:
            self._bad(ws, "not JSON")
            return
        if not isinstance(doc, dict):
            self._bad(ws, "not a JSON object")
            return
        command, path = doc.get("COMMAND"), doc.get("DATA")
        if command not in ("LISTEN", "IGNORE") or not isinstance(path, str):
            self._bad(ws, f"unknown command {str(command)[:40]!r}")
            return
        if command == "IGNORE":
            client.listening.discard(path)
            client.pending.pop(path, None)
        elif self.store.spec(path) is None:
            self._bad(ws, f"LISTEN to {path[:80]!r}: no such parameter")
            return
        else:
            client.listening.add(path)
        self._update_listened()

    def _update_listened(self) -> None:
        self._listened = frozenset().union(*(c.listening for c in self._clients.values()))

    async def _sender(self, ws: ServerConnection, client: _Client) -> None:
        while True:
            await client.wake.wait()
            client.wake.clear()
            pending, client.pending = client.pending, {}
            for message in pending.values():
                if message is None:
                    await ws.send(json.dumps({"COMMAND": "PATH_CHANGED", "DATA": "/"}))
                else:
                    await ws.send(message)
                self.stats["ws_sent"] += 1

    # -- store listeners (any thread, under the store's lock: hand off only) ---------------------
    def _on_change(self, address: str, value: Any, source: str) -> None:
        if address not in self._listened:
            return
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._deliver, address, value)
        except RuntimeError:  # stopping
            pass

    def _on_layout(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or not self._clients:
            return
        try:
            loop.call_soon_threadsafe(self._deliver, "/", None)
        except RuntimeError:
            pass

    def _deliver(self, address: str, value: Any) -> None:
        """On the loop: queue the message for every client that wants it (latest wins)."""
        message: bytes | None = None
        if address != "/" or value is not None:
            spec = self.store.spec(address)
            if spec is None:
                return
            message = encode_value(spec, value)
        for client in self._clients.values():
            if message is None or address in client.listening:
                key = address if message is not None else "\x00/"
                client.pending.pop(key, None)  # keep the order of the latest changes
                client.pending[key] = message
                client.wake.set()

    # -- zeroconf --------------------------------------------------------------------------------
    def _advertise(self) -> None:
        try:
            from zeroconf import ServiceInfo, Zeroconf
        except ImportError:
            log.info("OSCQuery not advertised: the zeroconf package is not installed")
            return
        zc = None
        try:
            ip = self.bind
            if ip in ("0.0.0.0", "::"):
                ip = _primary_ip()
            interfaces = [ip] if ip.startswith("127.") or ip == "::1" else None
            zc = Zeroconf(interfaces=interfaces) if interfaces else Zeroconf()
            host = socket.gethostname().split(".")[0] or "liveai"
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            addr = [socket.inet_pton(family, ip)]
            zc.register_service(ServiceInfo(
                "_oscjson._tcp.local.", f"{self.name}._oscjson._tcp.local.", port=self.port,
                addresses=addr, server=f"{host}.local."), allow_name_change=True)
            if self.osc_port:
                zc.register_service(ServiceInfo(
                    "_osc._udp.local.", f"{self.name}._osc._udp.local.", port=self.osc_port,
                    addresses=addr, server=f"{host}.local."), allow_name_change=True)
            with self._zc_lock:
                if self._stopped:
                    zc.close()
                    return
                self._zeroconf = zc
            log.info("OSCQuery advertised with zeroconf on %s", ip)
        except Exception as exc:  # no multicast, no interface...: run without it
            if zc is not None:
                try:
                    zc.close()
                except Exception:
                    log.debug("zeroconf close failed", exc_info=True)
            log.warning("OSCQuery not advertised with zeroconf (%s: %s); clients can still "
                        "connect to http://%s:%d/", type(exc).__name__, exc, self.bind,
                        self.port)

    def summary_lines(self) -> list[str]:
        """One line for the run summary."""
        s = self.stats
        return [f"OSCQuery: {s['http_requests']} HTTP requests, {s['ws_clients']} websocket "
                f"clients, {s['ws_sent']} values streamed, {s['ws_bad']} bad messages ignored"]


class _RateLimitFilter(logging.Filter):
    """Pass one record per message text per ``interval_s``; count the rest."""

    def __init__(self, interval_s: float = 10.0) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        key = str(record.msg)[:80]
        if now - self._last.get(key, -1e9) < self.interval_s:
            self.suppressed += 1
            return False
        if len(self._last) > 256:
            self._last.clear()
        self._last[key] = now
        return True


class _Client:
    """One websocket client: what it listens to, what waits to be sent."""

    def __init__(self) -> None:
        self.listening: set[str] = set()
        self.pending: dict[str, bytes | None] = {}
        self.wake = asyncio.Event()


def _primary_ip() -> str:
    """The address of the interface that routes outward (no packet is sent)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("10.255.255.255", 1))
        return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        s.close()
