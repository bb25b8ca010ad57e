"""OSC in: every parameter of the :class:`~liveai.params.ParameterStore` over UDP, with feedback.

Two parts, kept apart so each can be tested alone:

- :class:`OscDispatcher` turns a batch of datagrams into parameter writes: sender allowlist and
  per-sender rate limit, parsing (python-osc), address patterns and bundles, validation by the
  store, coalescing (the latest value per address per batch; every trigger kept), and a count of
  every drop by reason. It owns no socket.
- :class:`OscServer` owns the UDP socket and one server thread (so changes apply in the order
  they arrived): it drains whatever the kernel has queued into one batch, hands it to the
  dispatcher, and sends feedback.

Feedback (the TouchOSC / Open Stage Control convention): every accepted change, wherever it came
from, goes out on its own address to every client that has talked to liveai and to the configured
tablets. A client that used a ``/norm`` alias also gets that alias. A message without arguments to
a non-trigger address is a query: the sender gets the current value back. A refused value is
answered with the current value, so the sender's fader snaps back.

Bundle time tags are honoured: a bundle tagged for a moment up to ``control.bundle_max_delay_s``
ahead waits (in a bounded queue, in the server thread) and applies then; a tag in the past or
"immediately" applies on arrival, in order; a tag further ahead is taken for a sender whose clock
is wrong and applies on arrival too (logged), so a desk with a skewed clock never freezes control.
Clients silent for ``control.client_forget_s`` get no more feedback.
"""

from __future__ import annotations

import heapq
import ipaddress
import logging
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from liveai.config import ControlConfig, split_host_port
from liveai.control.osc_pattern import PatternError, compile_pattern, is_pattern, match
from liveai.errors import LiveAIError
from liveai.log import RateLimitedLogger
from liveai.params import NORM_SUFFIX, ROOT, ParameterStore, ParamSpec, ParamType

log = logging.getLogger(__name__)

#: Datagrams drained from the socket into one batch at most.
MAX_BATCH = 1024
#: Clients remembered for feedback (the least recently heard is forgotten first).
MAX_CLIENTS = 32
#: Read-only count of the clients that get feedback; tablets set at FEEDBACK_ADDRESS.
CLIENTS_ADDRESS = "/liveai/osc/clients"
FEEDBACK_ADDRESS = "/liveai/osc/feedback"
#: Time-tagged messages waiting for their moment at most (more are applied on arrival).
MAX_SCHEDULED = 4096
#: Hosts remembered by the rate limiter and the allowlist cache.
MAX_HOSTS = 4096
MAX_DATAGRAM_BYTES = 65535
#: Bundles (nested or side by side) in one datagram at most: python-osc re-parses every level
#: of a nested bundle, so thousands of levels would cost the server milliseconds per packet.
MAX_BUNDLES = 64
_BUNDLE_TAG = b"#bundle\x00"
#: Refusals answered with the current value (the sender's control snaps back).
_SNAP_BACK = frozenset({"bad_type", "not_finite", "out_of_range", "bad_value"})
#: Drop reasons counted per datagram, then per message.
DATAGRAM_REASONS = ("not_allowed", "rate_limited", "malformed")
MESSAGE_REASONS = ("bad_address", "unknown_address", "bad_type", "not_finite", "out_of_range",
                   "bad_value", "internal_error")


class ControlError(LiveAIError):
    """The control server cannot start (port in use, unknown feedback host)."""


def encode(address: str, spec: ParamSpec, value: Any) -> bytes:
    """One OSC message carrying ``value`` in the parameter's feedback types.

    Floats as ``f``, ints as ``i``, bools as ``i`` 0/1, choices and strings as ``s``, vectors as
    one ``f`` per component.
    """
    b = OscMessageBuilder(address=address)
    kind = spec.kind
    if kind == ParamType.FLOAT:
        for v in (value if spec.size > 1 else (value,)):
            b.add_arg(float(v), "f")
    elif kind in (ParamType.INT, ParamType.BOOL):
        b.add_arg(int(value), "i")
    elif kind in (ParamType.CHOICE, ParamType.STRING):
        b.add_arg(str(value), "s")
    return b.build().dgram


def encode_normalised(store: ParameterStore, spec: ParamSpec) -> bytes:
    """The current value of ``spec`` on its ``/norm`` alias, 0..1 per component."""
    unit = ParamSpec(spec.address, ParamType.FLOAT, (0.0,) * spec.size if spec.size > 1 else 0.0,
                     0.0, 1.0, size=spec.size)
    return encode(spec.address + NORM_SUFFIX, unit, store.get_normalised(spec.address))


#: Seconds from the NTP epoch (1900) to the Unix epoch (1970).
_NTP_UNIX_S = 2208988800


def _bundle_time(data: bytes) -> float | None:
    """The Unix time a bundle is tagged for, or None for "immediately" or a plain message.

    The outermost tag counts for the whole packet (OSC 1.0: nested tags are never earlier).
    """
    if len(data) < 16 or not data.startswith(_BUNDLE_TAG):
        return None
    seconds, fraction = struct.unpack(">II", data[8:16])
    if seconds == 0 and fraction <= 1:
        return None
    return seconds - _NTP_UNIX_S + fraction / 2.0**32


class _QuietPythonOsc(logging.Filter):
    """Drop python-osc's own warnings (one per bad packet, on the root logger).

    A flood of bad packets would become a flood of log lines; liveai counts and logs drops
    itself, rate-limited.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "pythonosc" not in record.pathname


_QUIET = _QuietPythonOsc()


@dataclass
class Client:
    """A peer that sent liveai a valid packet: it gets feedback."""

    host: str
    port: int
    last_seen: float = 0.0
    norm: set[str] = field(default_factory=set)  # parameters it drives through /norm


class OscDispatcher:
    """Batches of datagrams → checked, coalesced writes to the store (no socket here).

    Parameters
    ----------
    store : ParameterStore
    allow : list of str
        Sender networks accepted (CIDR, e.g. ``192.168.0.0/16``).
    rate_limit_per_s : float
        Messages per second accepted from one sender host, with a burst of one second's worth
        (0: no limit). A datagram costs one before it is parsed; a bundle then pays for the
        rest of its messages, so packing thousands of messages into bundles does not get round
        the limit.
    bundle_max_delay_s : float
        Bundles time-tagged up to this far ahead wait for their time (0: never wait).
    client_forget_s : float
        Clients silent this long are forgotten (no more feedback).
    """

    def __init__(self, store: ParameterStore, allow: list[str],
                 rate_limit_per_s: float = 0.0, bundle_max_delay_s: float = 10.0,
                 client_forget_s: float = 1800.0) -> None:
        self.store = store
        self.bundle_max_delay_s = float(bundle_max_delay_s)
        self.client_forget_s = float(client_forget_s)
        #: (due wall-clock s, arrival order, address, params, sender): waiting bundle messages
        self._scheduled: list[tuple[float, int, str, list, tuple[str, int]]] = []
        self._schedule_seq = 0
        self.networks = [ipaddress.ip_network(a, strict=False) for a in allow]
        self.rate_limit_per_s = float(rate_limit_per_s)
        self.stats = {"datagrams": 0, "packets": 0, "messages": 0, "accepted": 0, "applied": 0,
                      "coalesced": 0, "queries": 0, "scheduled": 0, "clock_ahead": 0}
        self.drops = dict.fromkeys(DATAGRAM_REASONS + MESSAGE_REASONS, 0)
        self.clients: dict[tuple[str, int], Client] = {}
        #: An immutable copy of the clients for the feedback listener (any thread).
        self.client_list: tuple[Client, ...] = ()
        self._allowed: dict[str, bool] = {}
        self._buckets: dict[str, list[float]] = {}
        self._patterns: dict[str, list[str]] = {}
        self._patterns_layout = -1
        self._trigger_seq = 0
        self._replies: dict[tuple[str, bool], bytes] = {}
        self._replies_version = -1
        self._rl = RateLimitedLogger(log, interval_s=5.0)

    # -- sender checks ---------------------------------------------------------------------------
    def _is_allowed(self, host: str) -> bool:
        ok = self._allowed.get(host)
        if ok is None:
            ok = in_networks(host, self.networks)
            if len(self._allowed) >= MAX_HOSTS:
                self._allowed.clear()
            self._allowed[host] = ok
        return ok

    def _take_token(self, host: str, now: float, n: float = 1.0) -> bool:
        rate = self.rate_limit_per_s
        if rate <= 0:
            return True
        bucket = self._buckets.get(host)
        if bucket is None:
            if len(self._buckets) >= MAX_HOSTS:
                self._buckets.clear()
            bucket = self._buckets[host] = [rate, now]
        # [messages] = [messages/s] * [s], capped at one second's worth
        bucket[0] = min(rate, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if bucket[0] < n:
            return False
        bucket[0] -= n
        return True

    def _client(self, addr: tuple[str, int], now: float) -> Client:
        client = self.clients.get(addr)
        if client is None:
            if len(self.clients) >= MAX_CLIENTS:
                oldest = min(self.clients.values(), key=lambda c: c.last_seen)
                del self.clients[(oldest.host, oldest.port)]
            client = self.clients[addr] = Client(addr[0], addr[1])
            self.client_list = tuple(self.clients.values())
            log.info("OSC client %s:%d connected (it gets feedback)", addr[0], addr[1])
            self._count_clients()
        client.last_seen = now
        return client

    def _drop(self, reason: str, addr: tuple[str, int], detail: str) -> None:
        self.drops[reason] += 1
        self._rl.warning(reason, "OSC from %s:%d dropped (%s): %s", addr[0], addr[1], reason,
                         detail)

    def _expand(self, pattern: str) -> list[str]:
        layout = self.store.snapshot.layout_version
        if layout != self._patterns_layout or len(self._patterns) > 1024:
            self._patterns.clear()
            self._patterns_layout = layout
        targets = self._patterns.get(pattern)
        if targets is None:
            compiled = compile_pattern(pattern)
            targets = [a for a in self.store.addresses(with_norm=True) if match(compiled, a)]
            self._patterns[pattern] = targets
        return targets

    # -- the batch -------------------------------------------------------------------------------
    def handle_batch(self, batch: list[tuple[bytes, tuple[str, int]]],
                     now: float | None = None, wall: float | None = None
                     ) -> list[tuple[bytes, tuple[str, int]]]:
        """Check, coalesce and apply one batch of datagrams, in arrival order.

        Values for one address are coalesced to the latest (applied where it arrived relative
        to the other writes); every trigger fires.

        Parameters
        ----------
        batch : list of (bytes, (host, port))
            Datagrams and their senders.
        now : float, optional
            ``time.monotonic()``, for the rate limiter.
        wall : float, optional
            ``time.time()``, against which bundle time tags are read.

        Returns
        -------
        list of (bytes, (host, port))
            Replies to send: current values for queries and refused values.
        """
        now = time.monotonic() if now is None else now
        ops: dict[Any, tuple[str, Any, str]] = {}
        replies: list[tuple[bytes, tuple[str, int]]] = []
        stats = self.stats
        for data, addr in batch:
            stats["datagrams"] += 1
            host = addr[0]
            if not self._is_allowed(host):
                self._drop("not_allowed", addr, "sender not in control.allow")
                continue
            if not self._take_token(host, now):
                self._drop("rate_limited", addr, f"over {self.rate_limit_per_s:g} messages/s")
                continue
            if data.count(_BUNDLE_TAG) > MAX_BUNDLES:
                self._drop("malformed", addr, f"more than {MAX_BUNDLES} bundles in one packet")
                continue
            try:
                messages = OscPacket(data).messages
            except Exception as exc:  # python-osc raises more than ParseError on hostile bytes
                self._drop("malformed", addr, f"{type(exc).__name__}: {str(exc)[:80]}")
                continue
            if len(messages) > 1 and not self._take_token(host, now, len(messages) - 1):
                self._drop("rate_limited", addr, f"a bundle of {len(messages)} messages over "
                           f"{self.rate_limit_per_s:g} messages/s")
                continue
            stats["packets"] += 1
            client = self._client(addr, now)
            source = f"osc:{host}:{addr[1]}"
            ahead_s = 0.0
            tag_s = _bundle_time(data)
            if tag_s is not None:
                wall = time.time() if wall is None else wall
                ahead_s = tag_s - wall
            for timed in messages:
                stats["messages"] += 1
                if ahead_s > 0.0 and self._schedule(ahead_s, wall, timed, addr):
                    continue
                try:
                    self._message(timed.message.address, timed.message.params, client, addr,
                                  source, ops, replies)
                except Exception:  # a bug here must cost one message, not the show
                    self.drops["internal_error"] += 1
                    self._rl.warning("internal", "OSC message from %s:%d failed", addr[0],
                                     addr[1], exc_info=True)
        for address, value, source in ops.values():
            # set() checks again under the store's lock (a scene may have been reloaded with
            # other ranges since the batch was validated); coerced values pass unchanged.
            if self.store.set(address, value, source).ok:
                stats["applied"] += 1
        return replies

    def _schedule(self, ahead_s: float, wall: float, timed: Any, addr: tuple[str, int]) -> bool:
        """Queue a message tagged for later; False when it must apply now instead."""
        if ahead_s > self.bundle_max_delay_s:
            self.stats["clock_ahead"] += 1
            self._rl.warning("clock", "OSC bundle from %s:%d is tagged %.1f s ahead (more than "
                             "control.bundle_max_delay_s): applied now; is its clock right?",
                             addr[0], addr[1], ahead_s)
            return False
        if len(self._scheduled) >= MAX_SCHEDULED:
            self._rl.warning("schedule", "OSC: %d time-tagged messages already wait; one from "
                             "%s:%d applied now", MAX_SCHEDULED, addr[0], addr[1])
            return False
        self._schedule_seq += 1
        heapq.heappush(self._scheduled, (wall + ahead_s, self._schedule_seq,
                                         timed.message.address, timed.message.params, addr))
        self.stats["scheduled"] += 1
        return True

    @property
    def next_due_s(self) -> float | None:
        """Wall-clock time of the next waiting time-tagged message, or None."""
        return self._scheduled[0][0] if self._scheduled else None

    def run_due(self, wall: float | None = None, now: float | None = None
                ) -> list[tuple[bytes, tuple[str, int]]]:
        """Apply the time-tagged messages whose time has come, in tag (then arrival) order.

        Returns
        -------
        list of (bytes, (host, port))
            Replies, as :meth:`handle_batch`.
        """
        wall = time.time() if wall is None else wall
        now = time.monotonic() if now is None else now
        replies: list[tuple[bytes, tuple[str, int]]] = []
        while self._scheduled and self._scheduled[0][0] <= wall:
            _due, _seq, address, params, addr = heapq.heappop(self._scheduled)
            ops: dict[Any, tuple[str, Any, str]] = {}
            try:
                self._message(address, params, self._client(addr, now), addr,
                              f"osc:{addr[0]}:{addr[1]}", ops, replies)
            except Exception:  # a bug here must cost one message, not the show
                self.drops["internal_error"] += 1
                self._rl.warning("internal", "OSC message from %s:%d failed", addr[0], addr[1],
                                 exc_info=True)
            for a, value, source in ops.values():
                if self.store.set(a, value, source).ok:
                    self.stats["applied"] += 1
        return replies

    def forget_silent(self, now: float | None = None) -> int:
        """Forget clients not heard for ``client_forget_s``; returns how many."""
        now = time.monotonic() if now is None else now
        gone = [k for k, c in self.clients.items() if now - c.last_seen > self.client_forget_s]
        for k in gone:
            del self.clients[k]
            log.info("OSC client %s:%d silent for %.0f s: no more feedback", k[0], k[1],
                     self.client_forget_s)
        if gone:
            self.client_list = tuple(self.clients.values())
            self._count_clients()
        return len(gone)

    def _count_clients(self) -> None:
        """Publish how many clients get feedback (``/liveai/osc/clients``, where registered)."""
        if CLIENTS_ADDRESS in self.store:
            self.store.set(CLIENTS_ADDRESS, len(self.clients), source="osc")

    def _message(self, address: str, params: list, client: Client, addr: tuple[str, int],
                 source: str, ops: dict, replies: list) -> None:
        stats = self.stats
        if not isinstance(address, str) or not address.startswith(ROOT + "/"):
            self._drop("bad_address", addr, f"{str(address)[:60]!r} is not under {ROOT}/")
            return
        pattern = is_pattern(address)
        if pattern:
            try:
                targets = self._expand(address)
            except PatternError as exc:
                self._drop("bad_address", addr, str(exc))
                return
        else:
            targets = [address]
        value = None if not params else params[0] if len(params) == 1 else tuple(params)
        accepted = queried = False
        refused: tuple[str, str] | None = None
        for target in targets:
            found = self.store.resolve(target)
            if found is None:
                refused = refused or ("unknown_address", f"{target[:60]!r}: no such parameter")
                continue
            spec, normalised = found
            if value is None and spec.kind != ParamType.TRIGGER:
                replies.append((self._current(spec, normalised), addr))
                queried = True
                continue
            if spec.read_only:  # an estimate (the mixer's crowd level...): only liveai writes
                refused = refused or ("bad_value", f"{spec.address} is read-only")
                if not pattern:
                    replies.append((self._current(spec, normalised), addr))
                continue
            result = self.store.validate(target, value)
            if not result.ok:
                refused = refused or (result.reason, result.message)
                if not pattern and result.reason in _SNAP_BACK:
                    replies.append((self._current(spec, normalised), addr))
                continue
            accepted = True
            if normalised and spec.address not in client.norm:
                client.norm.add(spec.address)
            if spec.kind == ParamType.TRIGGER:
                if result.value is not None:
                    self._trigger_seq += 1
                    ops[self._trigger_seq] = (spec.address, True, source)
            else:
                if ops.pop(spec.address, None) is not None:
                    stats["coalesced"] += 1
                ops[spec.address] = (spec.address, result.value, source)
        if accepted:
            stats["accepted"] += 1
        elif queried:
            stats["queries"] += 1
        elif refused is not None:
            self._drop(refused[0], addr, refused[1])
        else:
            self._drop("unknown_address", addr, f"{address[:60]!r} matches no parameter")

    def _current(self, spec: ParamSpec, normalised: bool) -> bytes:
        """The current value as a reply, cached until the store changes (floods of queries)."""
        version = self.store.snapshot.version
        if version != self._replies_version or len(self._replies) > 1024:
            self._replies.clear()
            self._replies_version = version
        key = (spec.address, normalised)
        data = self._replies.get(key)
        if data is None:
            data = (encode_normalised(self.store, spec) if normalised
                    else encode(spec.address, spec, self.store.get(spec.address)))
            self._replies[key] = data
        return data


def _resolve_target(text: str, family: int = socket.AF_INET) -> tuple[str, int]:
    """A feedback target ``host:port`` / ``[v6]:port`` as an address the socket can send to."""
    found = split_host_port(text)
    if found is None:
        raise ControlError(f'control.feedback: "{text}" should look like "192.168.1.20:9000"')
    host, port = found
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise ControlError(f"control.feedback: cannot resolve {host!r}: {exc}") from None
    for fam, *_rest, sockaddr in infos:
        if fam == family:
            return str(sockaddr[0]), port
        if fam == socket.AF_INET and family == socket.AF_INET6:  # a dual-stack socket
            return f"::ffff:{sockaddr[0]}", port
    raise ControlError(f"control.feedback: {host!r} has no "
                       f"{'IPv4' if family == socket.AF_INET else 'IPv6'} address to match "
                       f"control.osc_bind")


def sender_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A sender's address, an IPv4 sender on a dual-stack socket (``::ffff:a.b.c.d``) as IPv4."""
    ip = ipaddress.ip_address(host.split("%", 1)[0])  # fe80::1%eth0: the scope is not a host
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def in_networks(host: str, networks: list) -> bool:
    """True when ``host`` (an IP address; IPv4-mapped IPv6 counts as IPv4) is in ``networks``.

    Anything that is not an IP address (a name, garbage) is False.
    """
    try:
        ip = sender_ip(host)
    except (ValueError, TypeError, AttributeError):
        return False
    return any(ip.version == n.version and ip in n for n in networks)


class OscServer:
    """UDP OSC server on one thread, writing to ``store``; sends feedback.

    Parameters
    ----------
    store : ParameterStore
    config : ControlConfig
        Bind address and port (port 0: any free port, see :attr:`port`), allowlist, rate
        limit, feedback targets, reply port, receive buffer.

    Raises
    ------
    ControlError
        When the port cannot be bound or a feedback host cannot be resolved.
    """

    def __init__(self, store: ParameterStore, config: ControlConfig) -> None:
        self.store = store
        self.config = config
        self.dispatcher = OscDispatcher(store, list(config.allow), config.rate_limit_per_s,
                                        config.bundle_max_delay_s, config.client_forget_s)
        family = socket.AF_INET6 if ":" in config.osc_bind else socket.AF_INET
        self.feedback_targets = [_resolve_target(t, family) for t in config.feedback]
        self.reply_port = int(config.reply_port)
        self.feedback_sent = 0
        self.feedback_errors = 0
        self.batches = 0
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if family == socket.AF_INET6:  # "::" hears IPv4 senders too (as ::ffff:a.b.c.d)
                self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            # A fader storm waits in the kernel while a batch is applied: make room for it.
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                  config.receive_buffer_bytes)
            self._sock.bind((config.osc_bind, config.osc_port))
        except OSError as exc:
            self._sock.close()
            raise ControlError(f"cannot listen for OSC on {config.osc_bind}:{config.osc_port}: "
                               f"{exc.strerror or exc} (control.osc_port / --osc-port)") from None
        # Linux reports twice the usable size and caps the request at net.core.rmem_max.
        self.receive_buffer_bytes = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        if self.receive_buffer_bytes < config.receive_buffer_bytes:
            log.warning("OSC receive buffer is %d bytes, not the %d asked for: raise "
                        "net.core.rmem_max to absorb bigger fader storms",
                        self.receive_buffer_bytes, config.receive_buffer_bytes)
        # Non-blocking, waited on with select: a socket timeout would make Python poll before
        # every receive, and the receive that finds the queue empty would wait the whole timeout.
        self._sock.setblocking(False)
        self.bind, self.port = self._sock.getsockname()[:2]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rl = RateLimitedLogger(log)
        if _QUIET not in logging.getLogger().filters:
            logging.getLogger().addFilter(_QUIET)
        store.subscribe(self._on_change)

    def start(self) -> None:
        """Start the server thread."""
        self._thread = threading.Thread(target=self._run, name="liveai-osc-in", daemon=True)
        self._thread.start()
        log.info("listening for OSC on %s:%d (%d parameters; 'liveai osc tree' lists them)",
                 self.bind, self.port, len(self.store))

    def stop(self) -> None:
        """Stop the thread and close the socket."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.store.unsubscribe(self._on_change)
        self._sock.close()

    @property
    def alive(self) -> bool:
        """True while the server thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        sock = self._sock
        # One receive buffer for the life of the thread: recvfrom(65535) would allocate (and
        # map) 64 KiB per datagram, which costs more than parsing a small message.
        buf = bytearray(MAX_DATAGRAM_BYTES)
        view = memoryview(buf)
        d = self.dispatcher
        next_forget = 0.0
        while not self._stop.is_set():
            wait_s = 0.1
            due = d.next_due_s
            if due is not None:
                wall = time.time()
                if due <= wall:
                    self._reply(d.run_due(wall))
                    continue
                wait_s = min(wait_s, due - wall)
            if time.monotonic() >= next_forget:
                next_forget = time.monotonic() + 1.0
                d.forget_silent()
            try:
                if not select.select([sock], [], [], wait_s)[0]:
                    continue
                n, addr = sock.recvfrom_into(buf)
            except BlockingIOError:
                continue
            except OSError as exc:
                if self._stop.is_set():
                    return
                self._rl.warning("recv", "OSC receive failed: %s", exc)
                continue
            # An IPv6 sender's address has four parts (host, port, flow, scope): keep two.
            batch = [(bytes(view[:n]), addr[:2])]
            # Everything already queued joins this batch, so a storm is coalesced.
            while len(batch) < MAX_BATCH:
                try:
                    n, addr = sock.recvfrom_into(buf)
                except OSError:  # BlockingIOError: the queue is empty
                    break
                batch.append((bytes(view[:n]), addr[:2]))
            try:
                replies = self.dispatcher.handle_batch(batch)
            except Exception:  # a bug must not end control for the rest of the show
                self._rl.warning("batch", "OSC batch failed", exc_info=True)
                continue
            self.batches += 1
            self._reply(replies)

    def _reply(self, replies: list[tuple[bytes, tuple[str, int]]]) -> None:
        for data, addr in replies:
            self._send(data, self._reply_addr(addr))

    def _reply_addr(self, addr: tuple[str, int]) -> tuple[str, int]:
        return (addr[0], self.reply_port or addr[1])

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self._sock.sendto(data, socket.MSG_DONTWAIT, addr)
            self.feedback_sent += 1
        except OSError as exc:  # a tablet that left must not stop the others
            self.feedback_errors += 1
            self._rl.warning(f"send{addr[0]}", "cannot send OSC feedback to %s:%d: %s",
                             addr[0], addr[1], exc)

    def _on_change(self, address: str, value: Any, source: str) -> None:
        """Store listener: the new value to every client and feedback target."""
        spec = self.store.spec(address)
        if spec is None or spec.kind == ParamType.TRIGGER or self._stop.is_set():
            return
        if address == FEEDBACK_ADDRESS and isinstance(value, str):
            self.set_feedback(value)
        data = encode(address, spec, value)
        targets = list(self.feedback_targets)
        norm_data = None
        for client in self.dispatcher.client_list:
            addr = self._reply_addr((client.host, client.port))
            if addr not in targets:
                targets.append(addr)
            if address in client.norm:
                if norm_data is None:
                    norm_data = encode_normalised(self.store, spec)
                self._send(norm_data, addr)
        for addr in targets:
            self._send(data, addr)

    def set_feedback(self, text: str) -> list[str]:
        """Replace the tablets that always get feedback: ``"host:port, [v6]:port"`` (live).

        Only IP addresses inside ``control.allow`` are taken (a packet must not point liveai's
        feedback at an arbitrary host, nor make it wait on a name lookup); others are logged and
        left out.

        Returns
        -------
        list of str
            What was wrong with each entry left out.
        """
        family = self._sock.family
        targets, problems = [], []
        for item in (t.strip() for t in text.split(",")):
            if not item:
                continue
            found = split_host_port(item)
            try:
                if found is None:
                    raise ValueError('should look like "192.168.1.20:9001"')
                sender_ip(found[0])  # an IP literal, not a name
                if not self.dispatcher._is_allowed(found[0]):
                    raise ValueError("not in control.allow")
                targets.append(_resolve_target(item, family))
            except (ValueError, ControlError) as exc:
                problems.append(f"{item}: {exc}")
        for p in problems:
            log.warning("OSC feedback tablet left out: %s", p)
        self.feedback_targets = targets  # one reference swap (read by any thread)
        log.info("OSC feedback tablets: %s", ", ".join(f"{h}:{p}" for h, p in targets) or "none")
        return problems

    def stats(self) -> dict[str, Any]:
        """Counters: datagrams, messages, accepted, coalesced, drops by reason, feedback."""
        d = self.dispatcher
        return {**d.stats, "drops": dict(d.drops), "dropped": sum(d.drops.values()),
                "clients": len(d.clients), "feedback_sent": self.feedback_sent,
                "feedback_errors": self.feedback_errors, "batches": self.batches}

    def summary_lines(self) -> list[str]:
        """One or two lines for the run summary."""
        s = self.stats()
        drops = ", ".join(f"{k} {v}" for k, v in s["drops"].items() if v)
        return [f"OSC in: {s['messages']} messages, {s['accepted']} accepted "
                f"({s['coalesced']} coalesced), {s['queries']} queries, {s['dropped']} dropped"
                + (f" ({drops})" if drops else "") + f"; feedback sent: {s['feedback_sent']}"]
