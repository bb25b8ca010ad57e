"""ParameterStore: every controllable value of a show, one address each.

Every setting a performer can change while the show runs (scene, scene inputs, transition,
autopilot, master intensity, tempo tap, mixer bypass...) is one :class:`ParamSpec` with an address
under ``/liveai``, a type, a range, a unit, a default and a description. OSC, OSCQuery, MIDI,
presets and the UI all read and write through one :class:`ParameterStore`; nothing else holds
settings.

Three ways to read it:

- :meth:`ParameterStore.get` returns the Python value (thread-safe, takes the lock briefly);
- listeners (:meth:`ParameterStore.subscribe`) are told of every accepted change, with its source,
  in the order the changes were made (feedback to tablets is one such listener);
- :class:`ParamSnapshot` is a flat float64 array, one slot per parameter component, guarded by a
  sequence counter (a seqlock, like :class:`liveai.frame.SharedRecord`): the audio callback or a
  projector reads it without any lock, and never sees a half-written vector.

Writers never raise on bad input: :meth:`ParameterStore.set` returns a :class:`SetResult` naming the
reason (``unknown_address``, ``bad_type``, ``not_finite``, ``out_of_range``, ``bad_value``), so a
packet, a MIDI message or a preset can never push a value outside its range or crash the caller.

Coercion (the conventions of desks and tablets):

- float: ints, bools and numeric strings are accepted; NaN and ±inf are refused;
- int: floats are rounded to the nearest integer, numeric strings accepted;
- bool: ``True``/``False``, the numbers 0 and 1, and the strings true/false, on/off, yes/no, 1/0;
- choice: one of the names, or its 0-based index (int, integral float or numeric string);
- string: text up to :data:`MAX_STRING_CHARS` characters, no control characters;
- trigger: fires on no argument, ``True`` or a non-zero number; 0 and ``False`` (a button's
  release) are accepted and ignored;
- normalised alias: every float or int parameter with a finite range also answers at
  ``ADDRESS/norm``, taking 0..1 mapped linearly onto its range (what TouchOSC faders send).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import mmap
import os
import re
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from liveai.errors import LiveAIError
from liveai.log import RateLimitedLogger
from liveai.process import remove_stale, shm_dir

log = logging.getLogger(__name__)

ROOT = "/liveai"
NORM_SUFFIX = "/norm"
#: A description starting with this marks a parameter only liveai writes (an estimate).
READ_ONLY_PREFIX = "read-only:"
MAX_STRING_CHARS = 256
#: Slots of the numeric snapshot (a vector parameter takes one per component).
DEFAULT_CAPACITY = 4096
_SEGMENT = re.compile(r"[A-Za-z0-9_.\-]+")
_TRUE = frozenset({"true", "on", "yes", "1"})
_FALSE = frozenset({"false", "off", "no", "0"})

#: Reasons a value is refused (the OSC server counts drops under these names).
REASONS = ("unknown_address", "bad_type", "not_finite", "out_of_range", "bad_value")


class ParameterError(LiveAIError):
    """A parameter was registered wrongly, or a value was refused (see ``reason``).

    Parameters
    ----------
    message : str
        Names the address and the offending value.
    reason : str
        One of :data:`REASONS` (or ``"registration"``).
    """

    def __init__(self, message: str, reason: str = "bad_value") -> None:
        super().__init__(message)
        self.reason = reason


class ParamType(StrEnum):
    """The kinds of parameter."""

    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    CHOICE = "choice"
    STRING = "string"
    TRIGGER = "trigger"


@dataclass(frozen=True)
class ParamSpec:
    """One controllable value.

    Parameters
    ----------
    address : str
        ``/liveai/...``; segments of letters, digits, ``_ . -``; never ends in ``/norm``.
    kind : ParamType
    default : Any
        float, int, bool, str (also for a choice), tuple of floats for a vector, None for a
        trigger.
    minimum, maximum : float or None
        Inclusive range of a float or int (of every component of a vector).
    choices : tuple of str
        The names of a choice.
    size : int
        Components of a float vector (ISF ``point2D`` = 2, ``color`` = 4); 1 otherwise.
    unit : str
        ``ms``, ``s``, ``dB``, ``beats``, ... (empty for none).
    description : str
        One line for the address tree, written for the person at the desk.
    wired : bool
        False for a parameter registered ahead of the code that acts on it: it is stored and
        echoed, and the address tree says "planned".
    repeats : bool
        A value equal to the current one is a new request all the same (listeners hear it, a
        string's change count moves): a desk sending the scene it already sent goes back to it.
    """

    address: str
    kind: ParamType
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    size: int = 1
    unit: str = ""
    description: str = ""
    wired: bool = True
    repeats: bool = False

    @property
    def read_only(self) -> bool:
        """True for an estimate liveai publishes (description ``read-only: ...``).

        Desks, tablets and controllers may read it but not set it.
        """
        return self.description.startswith(READ_ONLY_PREFIX)

    @property
    def normalisable(self) -> bool:
        """True when the parameter answers at ``ADDRESS/norm`` (finite numeric range)."""
        return (self.kind in (ParamType.FLOAT, ParamType.INT) and self.minimum is not None
                and self.maximum is not None and self.maximum > self.minimum)

    @property
    def type_tags(self) -> str:
        """OSC type tags of the value feedback carries.

        Bools go as int 0/1, which every desk and tablet reads; a trigger has none.
        """
        return {ParamType.FLOAT: "f" * self.size, ParamType.INT: "i", ParamType.BOOL: "i",
                ParamType.CHOICE: "s", ParamType.STRING: "s", ParamType.TRIGGER: ""}[self.kind]

    def range_text(self) -> str:
        """The allowed values, for the address tree."""
        if self.kind == ParamType.CHOICE:
            if len(self.choices) > 8:  # a mapping's feature list: the tree stays readable
                return " \\| ".join(self.choices[:6]) + f" … ({len(self.choices)} choices)"
            return " \\| ".join(self.choices)
        if self.kind == ParamType.BOOL:
            return "0/1"
        if self.kind == ParamType.STRING:
            return f"≤ {MAX_STRING_CHARS} chars"
        if self.kind == ParamType.TRIGGER:
            return "—"
        return f"{_num(self.minimum)} .. {_num(self.maximum)}"

    def type_text(self) -> str:
        """``float``, ``float×2``, ``int``..., for the address tree."""
        return f"{self.kind.value}×{self.size}" if self.size > 1 else self.kind.value


def _num(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True, slots=True)
class SetResult:
    """What became of one write.

    Attributes
    ----------
    ok : bool
        The value was valid (it may still be unchanged).
    address : str
        The parameter's own address (without ``/norm``).
    value : Any
        The stored value after the write (the old one when refused).
    changed : bool
        The value changed (or a trigger fired): listeners were told.
    reason : str
        Empty when ok, else one of :data:`REASONS`.
    message : str
        Empty when ok, else one line naming the address and the offending value.
    """

    ok: bool
    address: str
    value: Any = None
    changed: bool = False
    reason: str = ""
    message: str = ""


Listener = Callable[[str, Any, str], None]


class ParamSnapshot:
    """Lock-free numeric view of every parameter: a seqlock over a float64 array.

    Layout of the buffer (little-endian, 8-byte aligned), so it can live in shared memory:
    ``uint64 sequence`` (odd while a write is in progress; ``sequence // 2`` counts writes),
    ``uint64 layout_version`` (moves when parameters are added or removed), ``uint64 n_slots``,
    ``uint64 reserved``, then ``float64 values[capacity]``.

    Slot contents by type: float/int/bool → the value (bool as 0/1); vector → one slot per
    component; choice → the 0-based index; string → how many times it changed; trigger → how
    many times it fired (an event = the counter moved). :meth:`ParameterStore.layout` maps
    addresses to slots.

    Parameters
    ----------
    capacity : int
        Number of float64 slots.
    buffer : writable buffer, optional
        At least :meth:`nbytes` bytes (e.g. an ``mmap`` of a shared-memory file); a private
        array is allocated when omitted. A reader in another process attaches to the same bytes
        with ``ParamSnapshot(capacity, buffer)`` and only calls :meth:`read`/:meth:`value`.
    """

    HEADER_WORDS = 4

    def __init__(self, capacity: int = DEFAULT_CAPACITY, buffer: Any = None) -> None:
        self.capacity = int(capacity)
        if buffer is None:
            buffer = bytearray(self.nbytes(self.capacity))
        self._header = np.frombuffer(buffer, dtype="<u8", count=self.HEADER_WORDS)
        self.values = np.frombuffer(buffer, dtype="<f8", count=self.capacity,
                                    offset=8 * self.HEADER_WORDS)

    @staticmethod
    def nbytes(capacity: int) -> int:
        """Bytes a buffer needs for ``capacity`` slots."""
        return 8 * (ParamSnapshot.HEADER_WORDS + int(capacity))

    @property
    def sequence(self) -> int:
        """The write counter (odd while a write is in progress)."""
        return int(self._header[0])

    @property
    def version(self) -> int:
        """Completed writes so far; a reader that sees it move knows something changed."""
        return int(self._header[0]) // 2

    @property
    def layout_version(self) -> int:
        """Moves whenever parameters are registered or removed."""
        return int(self._header[1])

    def value(self, slot: int) -> float:
        """One slot, without a lock (an aligned 8-byte load is never torn on x86-64)."""
        return float(self.values[slot])

    def read(self, out: np.ndarray, max_tries: int = 1000) -> int:
        """Copy the first ``len(out)`` slots into ``out`` consistently; return the version.

        Nothing is allocated, so the audio callback may call it. When it returns -1, ``out``
        may hold a torn copy: keep using the previous one.

        Parameters
        ----------
        out : np.ndarray, shape (n,), float64
        max_tries : int
            Retries while a write is in progress (writes take microseconds).

        Returns
        -------
        int
            The version the copy belongs to, or -1 when every try overlapped a write.
        """
        n = len(out)
        for _ in range(max_tries):
            s0 = int(self._header[0])
            if s0 & 1:
                continue
            out[:] = self.values[:n]
            if int(self._header[0]) == s0:
                return s0 // 2
        return -1

    # -- writer side (the store, under its lock) -----------------------------------------------
    def _write(self, slot: int, values: Sequence[float]) -> None:
        self._header[0] += 1
        self.values[slot : slot + len(values)] = values
        self._header[0] += 1

    def _set_layout(self, layout_version: int, n_slots: int) -> None:
        self._header[1] = layout_version
        self._header[2] = n_slots


class ParameterStore:
    """The one authority for every controllable value; thread-safe.

    Parameters
    ----------
    capacity : int
        Slots of the numeric snapshot.
    snapshot_buffer : writable buffer, optional
        Where the snapshot lives (shared memory); private memory when omitted.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, snapshot_buffer: Any = None) -> None:
        self._lock = threading.RLock()
        self._specs: dict[str, ParamSpec] = {}
        self._values: dict[str, Any] = {}
        self._slots: dict[str, int] = {}
        self._free: list[tuple[int, int]] = []  # (slot, size) of removed parameters
        self._next_slot = 0
        self._layout_version = 0
        self._listeners: list[Listener] = []
        self._layout_listeners: list[Callable[[], None]] = []
        self.snapshot = ParamSnapshot(capacity, snapshot_buffer)
        self._rl = RateLimitedLogger(log)
        self.listener_errors = 0

    # -- registration ----------------------------------------------------------------------------
    def register(self, spec: ParamSpec, *, _notify: bool = True) -> ParamSpec:
        """Add a parameter at its default value.

        Registering an address again with an identical spec is a no-op, so two features may
        declare a shared parameter.

        Raises
        ------
        ParameterError
            For a malformed address, a default out of range, or an address already registered
            with a different spec.
        """
        _check_spec(spec)
        with self._lock:
            old = self._specs.get(spec.address)
            if old is not None:
                if old == spec:
                    return old
                raise ParameterError(f"{spec.address} is already registered as {old}",
                                     "registration")
            prefix = spec.address + "/"
            clash = next((a for a in self._specs if a.startswith(prefix)
                          or spec.address.startswith(a + "/")), None)
            if clash is not None:
                raise ParameterError(f"{spec.address}: a parameter cannot sit above or below "
                                     f"another ({clash})", "registration")
            slot = self._allocate(spec.size)
            self._specs[spec.address] = spec
            self._slots[spec.address] = slot
            value = spec.default if spec.kind != ParamType.TRIGGER else 0
            if spec.kind == ParamType.FLOAT and spec.size > 1:
                value = tuple(float(v) for v in value)
            self._values[spec.address] = value
            self._layout_version += 1
            self.snapshot._set_layout(self._layout_version, self._next_slot)
            numeric = (0.0,) if spec.kind == ParamType.STRING else self._numeric(spec, value, None)
            self.snapshot._write(slot, numeric)
            if _notify:
                self._layout_changed()
            return spec

    def register_many(self, specs: Sequence[ParamSpec]) -> None:
        """Register several parameters (see :meth:`register`); layout listeners hear once."""
        with self._lock:
            try:
                for spec in specs:
                    self.register(spec, _notify=False)
            finally:
                self._layout_changed()

    def unregister(self, prefix: str) -> int:
        """Remove every parameter at or below ``prefix`` (a scene that was unloaded).

        Returns
        -------
        int
            How many were removed.
        """
        with self._lock:
            gone = [a for a in self._specs if a == prefix or a.startswith(prefix.rstrip("/") + "/")]
            for address in gone:
                spec = self._specs.pop(address)
                self._values.pop(address)
                self._free.append((self._slots.pop(address), spec.size))
            if gone:
                self._layout_version += 1
                self.snapshot._set_layout(self._layout_version, self._next_slot)
                self._layout_changed()
            return len(gone)

    def subscribe_layout(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` whenever parameters were added or removed (under the lock)."""
        with self._lock:
            self._layout_listeners.append(listener)

    def unsubscribe_layout(self, listener: Callable[[], None]) -> None:
        """Stop calling a layout ``listener``."""
        with self._lock:
            if listener in self._layout_listeners:
                self._layout_listeners.remove(listener)

    def _layout_changed(self) -> None:
        for listener in self._layout_listeners:
            try:
                listener()
            except Exception:  # e.g. /dev/shm full: the values still flow, the log says why
                self.listener_errors += 1
                self._rl.warning("layout", "a parameter layout listener failed", exc_info=True)

    def _allocate(self, size: int) -> int:
        for i, (slot, free_size) in enumerate(self._free):
            if free_size == size:
                del self._free[i]
                return slot
        if self._next_slot + size > self.snapshot.capacity:
            raise ParameterError(f"the parameter snapshot is full ({self.snapshot.capacity} "
                                 "slots)", "registration")
        slot = self._next_slot
        self._next_slot += size
        return slot

    # -- reading ---------------------------------------------------------------------------------
    def __contains__(self, address: str) -> bool:
        return address in self._specs

    def __len__(self) -> int:
        return len(self._specs)

    def specs(self) -> list[ParamSpec]:
        """Every parameter, sorted by address."""
        with self._lock:
            return [self._specs[a] for a in sorted(self._specs)]

    def spec(self, address: str) -> ParamSpec | None:
        """The spec at ``address`` (without ``/norm``), or None."""
        return self._specs.get(address)

    def resolve(self, address: str) -> tuple[ParamSpec, bool] | None:
        """``(spec, normalised)`` for an address or its ``/norm`` alias; None when unknown."""
        spec = self._specs.get(address)
        if spec is not None:
            return spec, False
        if address.endswith(NORM_SUFFIX):
            spec = self._specs.get(address[: -len(NORM_SUFFIX)])
            if spec is not None and spec.normalisable:
                return spec, True
        return None

    def addresses(self, with_norm: bool = False) -> list[str]:
        """Every address, sorted; with ``with_norm`` the ``/norm`` aliases too."""
        with self._lock:
            out = list(self._specs)
            if with_norm:
                out += [a + NORM_SUFFIX for a, s in self._specs.items() if s.normalisable]
        return sorted(out)

    def get(self, address: str) -> Any:
        """The current value (a trigger's fire count).

        Raises
        ------
        ParameterError
            When the address is unknown.
        """
        with self._lock:
            try:
                return self._values[address]
            except KeyError:
                raise ParameterError(f"{address}: no such parameter",
                                     "unknown_address") from None

    def get_normalised(self, address: str) -> float | tuple[float, ...]:
        """The value of a normalisable parameter mapped onto 0..1 (a tuple for a vector)."""
        spec = self._specs[address]
        lo, hi = float(spec.minimum), float(spec.maximum)
        value = self.get(address)
        if spec.size > 1:
            return tuple((float(v) - lo) / (hi - lo) for v in value)
        return (float(value) - lo) / (hi - lo)

    def slot(self, address: str) -> int:
        """The snapshot slot of a parameter (its first component)."""
        return self._slots[address]

    def layout(self) -> list[dict[str, Any]]:
        """Address → slot map and types, for a reader of the snapshot in another process."""
        with self._lock:
            return [{"address": s.address, "slot": self._slots[s.address], "size": s.size,
                     "type": s.kind.value, "min": s.minimum, "max": s.maximum,
                     "choices": list(s.choices)} for s in self.specs()]

    def layout_json(self) -> str:
        """:meth:`layout` as JSON, with the layout version."""
        with self._lock:
            return json.dumps({"layout_version": self._layout_version,
                               "parameters": self.layout()})

    # -- writing ---------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(address, value, source)`` after every accepted change.

        Listeners run on the writer's thread, in order, while the store's lock is held (so
        every listener sees changes in the order they were made): they must be quick and must
        not block. An exception in one is logged (rate-limited) and does not stop the write.
        """
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def validate(self, address: str, value: Any) -> SetResult:
        """Check and coerce ``value`` for ``address`` (or its ``/norm`` alias) without storing.

        Returns
        -------
        SetResult
            ``ok`` with the coerced value in ``value`` (None for a trigger's release), or the
            reason it was refused.
        """
        found = self.resolve(address)
        if found is None:
            return SetResult(False, address, reason="unknown_address",
                             message=f"{_short(address)}: no such parameter")
        spec, normalised = found
        try:
            return SetResult(True, spec.address, coerce(spec, value, normalised))
        except ParameterError as exc:
            return SetResult(False, spec.address, reason=exc.reason, message=str(exc))

    def set(self, address: str, value: Any = None, source: str = "") -> SetResult:
        """Validate, coerce and store ``value``; tell the listeners when it changed.

        Parameters
        ----------
        address : str
            The parameter's address or its ``/norm`` alias.
        value : Any
            See the module docstring for what each type accepts; for a trigger, None fires.
        source : str
            Who asked (``osc:HOST:PORT``, ``midi``, ``preset``, ``autopilot``); passed to the
            listeners so feedback can tell where a change came from.

        Returns
        -------
        SetResult
            Never raises on bad input.
        """
        # Checked under the lock: a scene reloaded with a new range in between cannot let a
        # value validated against the old one in.
        with self._lock:
            result = self.validate(address, value)
            if not result.ok:
                current = self._values.get(result.address)
                return SetResult(False, result.address, current, False, result.reason,
                                 result.message)
            return self._apply(result.address, result.value, source)

    def _apply(self, address: str, value: Any, source: str) -> SetResult:
        """Store a value :meth:`validate` just coerced (lock held); a None trigger is a release."""
        with self._lock:
            spec = self._specs[address]
            old = self._values[address]
            if spec.kind == ParamType.TRIGGER:
                if value is None:
                    return SetResult(True, address, old, False)
                value = old + 1
            elif value == old and type(value) is type(old) and not spec.repeats:
                return SetResult(True, address, old, False)
            self._values[address] = value
            self.snapshot._write(self._slots[address], self._numeric(spec, value, old))
            for listener in self._listeners:
                try:
                    listener(address, value, source)
                except Exception:  # one broken listener must not stop the others
                    self.listener_errors += 1
                    self._rl.warning(f"listener{id(listener)}", "a parameter listener failed on "
                                     "%s", address, exc_info=True)
            return SetResult(True, address, value, True)

    def reset(self, source: str = "reset") -> None:
        """Put every parameter back to its default (triggers keep their counts)."""
        for spec in self.specs():
            if spec.kind != ParamType.TRIGGER:
                self.set(spec.address, spec.default, source)

    def _numeric(self, spec: ParamSpec, value: Any, old: Any) -> tuple[float, ...]:
        if spec.kind == ParamType.FLOAT:
            return tuple(value) if spec.size > 1 else (float(value),)
        if spec.kind in (ParamType.INT, ParamType.BOOL, ParamType.TRIGGER):
            return (float(value),)
        if spec.kind == ParamType.CHOICE:
            return (float(spec.choices.index(value)),)
        # a string: its slot counts changes
        slot = self._slots[spec.address]
        return (self.snapshot.values[slot] + (1.0 if value != old or spec.repeats else 0.0),)

    # -- documentation ---------------------------------------------------------------------------
    def tree_rows(self) -> list[tuple[str, str, str, str, str, str]]:
        """``(address, type, range, unit, default, description)`` for every parameter."""
        rows = []
        for s in self.specs():
            desc = s.description if s.wired else f"(planned) {s.description}"
            if s.normalisable:
                desc += "; also `/norm` 0..1"
            rows.append((s.address, s.type_text(), s.range_text(), s.unit, _default_text(s),
                         desc))
        return rows

    def tree_text(self) -> str:
        """The address tree as aligned text (``liveai osc tree``)."""
        rows = [("address", "type", "range", "unit", "default", "description"),
                *self.tree_rows()]
        rows = [tuple(c.replace(" \\| ", " | ").replace("`", "") for c in r) for r in rows]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True))
                         + "  " + r[5] for r in rows)

    def tree_markdown(self) -> str:
        """The README's OSC address tree (a test keeps the README in step)."""
        lines = ["| address | type | range | unit | default | description |",
                 "|---|---|---|---|---|---|"]
        lines += [f"| `{a}` | {t} | {r} | {u} | {d} | {desc} |"
                  for a, t, r, u, d, desc in self.tree_rows()]
        return "\n".join(lines)


def _default_text(spec: ParamSpec) -> str:
    d = spec.default
    if spec.kind == ParamType.TRIGGER:
        return "—"
    if isinstance(d, bool):
        return "1" if d else "0"
    if isinstance(d, str):
        return f'"{d}"'
    if isinstance(d, tuple):
        return ", ".join(_num(v) for v in d)
    return _num(d)


def _short(value: Any, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters (a fuzzer's 60 kB string stays out of the log)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_spec(spec: ParamSpec) -> None:
    where = spec.address

    def bad(msg: str) -> ParameterError:
        return ParameterError(f"{where}: {msg}", "registration")

    if not isinstance(spec.kind, ParamType):
        raise bad(f"kind {spec.kind!r} is not a ParamType")
    if not where.startswith(ROOT + "/") or where.endswith(NORM_SUFFIX):
        raise bad(f"addresses start with {ROOT}/ and never end in {NORM_SUFFIX}")
    if not all(_SEGMENT.fullmatch(s) for s in where[1:].split("/")):
        raise bad("address segments are letters, digits, '_', '.' or '-'")
    if spec.size != 1 and not (spec.kind == ParamType.FLOAT and 1 <= spec.size <= 16):
        raise bad("only float parameters have a size, 1 to 16")
    if spec.kind in (ParamType.FLOAT, ParamType.INT):
        lo, hi = spec.minimum, spec.maximum
        if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise bad(f"needs a finite range, minimum <= maximum (got {lo}, {hi})")
    if spec.kind == ParamType.CHOICE and (not spec.choices
                                          or len(set(spec.choices)) != len(spec.choices)):
        raise bad("a choice needs distinct names")
    if spec.kind == ParamType.TRIGGER:
        if spec.default is not None:
            raise bad("a trigger has no default")
        return
    try:
        ok = coerce(spec, spec.default) == spec.default
    except ParameterError as exc:
        raise bad(f"default {spec.default!r} is invalid: {exc}") from None
    if not ok:
        raise bad(f"default {spec.default!r} is not of type {spec.kind.value}")


def _float(spec: ParamSpec, value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ParameterError(f"{spec.address}: {_short(value)} is not a number",
                                 "bad_type") from None
    if not isinstance(value, int | float):  # bool is an int
        raise ParameterError(f"{spec.address}: {_short(value)} is not a number", "bad_type")
    try:
        x = float(value)
    except OverflowError:
        raise ParameterError(f"{spec.address}: {_short(value)} is out of range "
                             f"({spec.range_text()})", "out_of_range") from None
    if not math.isfinite(x):
        raise ParameterError(f"{spec.address}: {x} is not a finite number", "not_finite")
    return x


def _in_range(spec: ParamSpec, x: float, original: Any) -> None:
    if not spec.minimum <= x <= spec.maximum:
        raise ParameterError(f"{spec.address}: {_short(original)} is out of range "
                             f"({spec.range_text()})", "out_of_range")


def coerce(spec: ParamSpec, value: Any, normalised: bool = False) -> Any:
    """Check ``value`` against ``spec`` and return it in the parameter's own type.

    Parameters
    ----------
    spec : ParamSpec
    value : Any
        What arrived (see the module docstring); a 1-element list or tuple counts as its element
        for a scalar parameter.
    normalised : bool
        ``value`` is 0..1 on the ``/norm`` alias.

    Raises
    ------
    ParameterError
        With ``reason`` one of :data:`REASONS`.
    """
    kind = spec.kind
    if isinstance(value, list | tuple) and (kind != ParamType.FLOAT or spec.size == 1):
        if len(value) == 1:
            value = value[0]
        elif len(value) == 0 and kind == ParamType.TRIGGER:
            value = None
        else:
            raise ParameterError(f"{spec.address}: expected one value, got {len(value)}",
                                 "bad_type")
    if kind == ParamType.TRIGGER:
        if value is None or value is True:
            return True
        if value is False:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ParameterError(f"{spec.address}: {value} is not finite", "not_finite")
            return True if value != 0 else None
        raise ParameterError(f"{spec.address}: a trigger takes no value, 1 or 0, not "
                             f"{_short(value)}", "bad_type")
    if value is None:
        raise ParameterError(f"{spec.address}: a value is needed", "bad_type")
    if kind == ParamType.FLOAT:
        if spec.size > 1:
            if not isinstance(value, list | tuple) or len(value) != spec.size:
                raise ParameterError(f"{spec.address}: expected {spec.size} numbers, got "
                                     f"{_short(value)}", "bad_type")
            return tuple(_scalar_float(spec, v, normalised) for v in value)
        return _scalar_float(spec, value, normalised)
    if kind == ParamType.INT:
        x = _float(spec, value)
        if normalised:
            _check_unit(spec, x)
            x = spec.minimum + x * (spec.maximum - spec.minimum)
        _in_range(spec, x, value)
        return round(x)
    if kind == ParamType.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ParameterError(f"{spec.address}: {_short(value)} is not true/false", "bad_type")
        x = _float(spec, value)
        if x not in (0.0, 1.0):
            raise ParameterError(f"{spec.address}: {_short(value)} is not 0 or 1",
                                 "out_of_range")
        return x == 1.0
    if kind == ParamType.CHOICE:
        if isinstance(value, str) and value in spec.choices:
            return value
        if isinstance(value, str):
            folded = {c.casefold(): c for c in spec.choices}
            if value.strip().casefold() in folded:
                return folded[value.strip().casefold()]
            try:
                float(value)
            except ValueError:
                raise ParameterError(f"{spec.address}: {_short(value)} is not one of "
                                     + ", ".join(spec.choices), "bad_value") from None
        x = _float(spec, value)
        i = round(x)
        if i != x or not 0 <= i < len(spec.choices):
            raise ParameterError(f"{spec.address}: {_short(value)} is not an index 0.."
                                 f"{len(spec.choices) - 1}", "out_of_range")
        return spec.choices[i]
    # ParamType.STRING
    if not isinstance(value, str):
        raise ParameterError(f"{spec.address}: {_short(value)} is not text", "bad_type")
    if len(value) > MAX_STRING_CHARS:
        raise ParameterError(f"{spec.address}: text longer than {MAX_STRING_CHARS} characters",
                             "out_of_range")
    if not value.isprintable():
        raise ParameterError(f"{spec.address}: {_short(value)} holds control characters",
                             "bad_value")
    return value


def _check_unit(spec: ParamSpec, x: float) -> None:
    if not 0.0 <= x <= 1.0:
        raise ParameterError(f"{spec.address}/norm: {x:g} is outside 0..1", "out_of_range")


def _scalar_float(spec: ParamSpec, value: Any, normalised: bool) -> float:
    x = _float(spec, value)
    if normalised:
        _check_unit(spec, x)
        x = spec.minimum + x * (spec.maximum - spec.minimum)
        return min(max(x, spec.minimum), spec.maximum)  # rounding must not leave the range
    _in_range(spec, x, value)
    return x


# -- shared memory ------------------------------------------------------------------------------
class SharedParams:
    """The parameter snapshot in a shared-memory file, its layout in a JSON file beside it.

    The engine creates it and hands :attr:`buffer` to its :class:`ParameterStore`; a projector
    (or any process on this machine) attaches by path and reads values without a lock or a
    message. The layout (address → slot) is rewritten atomically whenever parameters are added
    or removed; a reader reloads it when the snapshot's ``layout_version`` moves.

    Use :meth:`create` (engine) or :meth:`attach` (reader).

    Parameters
    ----------
    path : pathlib.Path
        The snapshot file (``liveai-PID-XXXX.params.shm``); the layout is ``...params.json``.
    owner : bool
        True in the creating process, which removes both files on :meth:`close`.
    """

    SUFFIX = ".params.shm"

    def __init__(self, path: Path, owner: bool) -> None:
        self.path = Path(path)
        self.owner = owner
        self.layout_path = self.path.with_name(self.path.name[: -len(self.SUFFIX)]
                                               + ".params.json")
        fd = os.open(self.path, os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            self._mm = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self.capacity = size // 8 - ParamSnapshot.HEADER_WORDS
        self.snapshot = ParamSnapshot(self.capacity, self._mm)
        self.strings_path = self.path.with_name(self.path.name[: -len(self.SUFFIX)]
                                                + ".params.strings.json")
        self._slots: dict[str, tuple[int, int]] = {}
        self._choices: dict[str, tuple[str, ...]] = {}
        self._loaded_layout = -1

    @property
    def buffer(self) -> mmap.mmap:
        """The mapped bytes, for ``ParameterStore(capacity, snapshot_buffer=...)``."""
        return self._mm

    @classmethod
    def create(cls, capacity: int = DEFAULT_CAPACITY) -> SharedParams:
        """Create a fresh snapshot file (and remove those of engines that died)."""
        folder = shm_dir()
        remove_stale(folder, "liveai-*-*.params.*")
        path = folder / f"liveai-{os.getpid()}-{secrets.token_hex(4)}{cls.SUFFIX}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, ParamSnapshot.nbytes(capacity))
        finally:
            os.close(fd)
        return cls(path, owner=True)

    @classmethod
    def attach(cls, path: str | Path) -> SharedParams:
        """Map a snapshot file created by the engine."""
        return cls(Path(path), owner=False)

    def follow(self, store: ParameterStore) -> None:
        """Publish ``store``'s layout now and whenever it changes (engine side).

        ``store`` must have been built on :attr:`buffer`.
        """
        if store.snapshot.values.ctypes.data != self.snapshot.values.ctypes.data:
            raise ParameterError("SharedParams.follow: the store does not write this buffer",
                                 "registration")
        store.subscribe_layout(lambda: self.publish_layout(store))
        self.publish_layout(store)
        # The snapshot carries only a string's change count; its text goes to a JSON file that
        # a listener rewrites (atomically) right after each change (see string()).
        # Beside each text, "ADDRESS#count": the change count it belongs to, so a reader can
        # tell a repeat of the same text (a desk sending the same scene twice) from a stale file.
        strings: dict[str, Any] = {s.address: s.default for s in store.specs()
                                   if s.kind == ParamType.STRING}

        def on_change(address: str, value: Any, _source: str) -> None:
            if isinstance(value, str):
                strings[address] = value
                strings[address + "#count"] = store.snapshot.value(store.slot(address))
                self._write_json(self.strings_path, json.dumps(strings))

        store.subscribe(on_change)
        self._write_json(self.strings_path, json.dumps(strings))

    @staticmethod
    def _write_json(path: Path, text: str) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)

    def publish_layout(self, store: ParameterStore) -> None:
        """Write the layout JSON atomically (a reader never sees half a file)."""
        tmp = self.layout_path.with_name(self.layout_path.name + ".tmp")
        tmp.write_text(store.layout_json(), encoding="utf-8")
        os.replace(tmp, self.layout_path)

    # -- reader side -------------------------------------------------------------------------------
    def _refresh(self) -> None:
        version = self.snapshot.layout_version
        if version == self._loaded_layout:
            return
        try:
            doc = json.loads(self.layout_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # not written yet: keep the last layout
        if doc.get("layout_version") != version:
            return  # the header moved first; the file follows in a moment
        self._slots = {p["address"]: (p["slot"], p["size"]) for p in doc["parameters"]}
        self._choices = {p["address"]: tuple(p.get("choices") or ()) for p in doc["parameters"]}
        self._loaded_layout = version

    def slot(self, address: str) -> tuple[int, int] | None:
        """``(first slot, size)`` of a parameter, or None when it is not (yet) known."""
        self._refresh()
        return self._slots.get(address)

    def value(self, address: str) -> float | tuple[float, ...] | None:
        """The current numeric value of a parameter (see :class:`ParamSnapshot`), or None."""
        found = self.slot(address)
        if found is None:
            return None
        slot, size = found
        if size == 1:
            return self.snapshot.value(slot)
        out = np.empty(size)
        while True:
            s0 = self.snapshot.sequence
            if not s0 & 1:
                out[:] = self.snapshot.values[slot : slot + size]
                if self.snapshot.sequence == s0:
                    return tuple(float(v) for v in out)

    def choices(self, address: str) -> tuple[str, ...]:
        """The choices of a choice parameter (its snapshot slot holds the index), or ()."""
        self._refresh()
        return self._choices.get(address, ())

    def choice(self, address: str, index: float | None = None) -> str | None:
        """The name of a choice parameter's value (the current one, or snapshot ``index``).

        None when the address is not a choice (yet) or the index is out of range.
        """
        if index is None:
            index = self.value(address)
        choices = self.choices(address)
        if index is None or not choices:
            return None
        i = int(index)
        return choices[i] if 0 <= i < len(choices) else None

    def string(self, address: str) -> str | None:
        """The text of a string parameter (reader side), or None when unknown.

        The file is written by the store's listener, which runs after the value is stored and
        its change count published; a reader that saw the count move may read the file a moment
        before it is replaced, so call again when the count moves again or poll briefly.
        """
        try:
            value = json.loads(self.strings_path.read_text(encoding="utf-8")).get(address)
        except (OSError, ValueError):
            return None
        return value if isinstance(value, str) else None

    def string_change(self, address: str) -> tuple[str, float] | None:
        """The text of a string parameter and the change count it was written at, or None.

        Compare the count with :meth:`value` (the snapshot's count) to know whether the file
        already holds the latest change, even when the text is the same as before.
        """
        try:
            doc = json.loads(self.strings_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        text, count = doc.get(address), doc.get(address + "#count", 0.0)
        if not isinstance(text, str) or not isinstance(count, int | float):
            return None
        return text, float(count)

    def close(self) -> None:
        """Unmap; the owner also removes the files."""
        self.snapshot = None  # drop the views before closing the map
        try:
            self._mm.close()
        except BufferError:  # a caller still holds a view; the OS frees it at exit
            pass
        if self.owner:
            self.path.unlink(missing_ok=True)
            self.layout_path.unlink(missing_ok=True)
            self.strings_path.unlink(missing_ok=True)


# -- the engine's own parameters ---------------------------------------------------------------
def _p(address: str, kind: ParamType, default: Any = None, lo: float | None = None,
       hi: float | None = None, unit: str = "", doc: str = "", choices: tuple[str, ...] = (),
       wired: bool = False) -> ParamSpec:
    return ParamSpec(ROOT + address, kind, default, lo, hi, choices, 1, unit, doc, wired)


_F, _I, _B, _C, _S, _T = (ParamType.FLOAT, ParamType.INT, ParamType.BOOL, ParamType.CHOICE,
                          ParamType.STRING, ParamType.TRIGGER)

#: Show-wide parameters every engine has. Features add their own (every ISF INPUT of a loaded
#: scene, the mixer's bands) with :meth:`ParameterStore.register`.
ENGINE_PARAMETERS: tuple[ParamSpec, ...] = (
    _p("/master/intensity", _F, 1.0, 0.0, 1.0, "", "overall brightness of the visuals", wired=True),
    _p("/master/blackout", _B, False, doc="projector output black (the show keeps running)",
       wired=True),
    _p("/master/freeze", _B, False, doc="hold the current picture", wired=True),
    _p("/osc/feedback", _S, "", doc='tablets that always get every change, "host:port" '
       "comma-separated (hosts in control.allow only; starts at control.feedback)", wired=True),
    _p("/osc/clients", _I, 0, 0, 1000, "", "read-only: clients that talked to liveai and get "
       "feedback", wired=True),
    _p("/osc_out/targets", _S, "", doc='where beats, levels and sections go as the /liveai tree, '
       '"host:port" comma-separated (desk templates stay in the preset)', wired=True),
    _p("/visual/latency_ms", _F, 40.0, 0.0, 1000.0, "ms",
       "projector + display delay: predicted beats fire this much early", wired=True),
    _p("/tempo/tap", _T, doc="tap the beat: three taps set tempo and phase (held 16 beats)",
       wired=True),
    _p("/tempo/resync", _T, doc="the next beat is the first of a bar", wired=True),
    _p("/tempo/nudge/forward", _T, doc="move the beat grid later by tempo/nudge_ms", wired=True),
    _p("/tempo/nudge/back", _T, doc="move the beat grid earlier by tempo/nudge_ms", wired=True),
    _p("/tempo/nudge_ms", _F, 10.0, 1.0, 100.0, "ms", "size of one nudge", wired=True),
    dataclasses.replace(_p("/scene/name", _S, "", doc="scene to show, by name (empty: the "
                           "preset's first; the same name again goes back to it)", wired=True),
                        repeats=True),
    _p("/scene/index", _I, 0, 0, 255, "", "scene to show, by position in the preset (0-based)",
       wired=True),
    _p("/scene/next", _T, doc="go to the next scene", wired=True),
    _p("/scene/previous", _T, doc="go to the previous scene", wired=True),
    _p("/transition/duration", _F, 4.0, 0.0, 600.0, "", "crossfade length, in transition/unit",
       wired=True),
    _p("/transition/unit", _C, "beats", doc="unit of transition/duration",
       choices=("beats", "seconds"), wired=True),
    _p("/transition/quantize", _C, "beat", doc="a change starts on the next beat or bar "
       "(none: at once)", choices=("none", "beat", "bar"), wired=True),
    _p("/autopilot/enabled", _B, True, doc="let the autopilot change scenes", wired=True),
    _p("/autopilot/mode", _C, "no-repeat", doc="order: sequence, random, no-repeat (random, "
       "never the same twice until all played)", choices=("sequence", "random", "no-repeat"),
       wired=True),
    _p("/autopilot/change_on", _C, "phrase", doc="boundary a change waits for",
       choices=("beat", "bar", "phrase"), wired=True),
    _p("/autopilot/every", _I, 2, 1, 1000, "", "change after this many beats / bars / phrases",
       wired=True),
    _p("/mixer/bypass", _B, False, doc="PA processing bypassed: the dry programme crossfades "
       "in (the hard ceiling stays)", wired=True),
    _p("/mixer/lock", _B, False, doc="freeze the automatic EQ and gain where they are",
       wired=True),
    _p("/mixer/max_boost_db", _F, 6.0, 0.0, 12.0, "dB",
       "most any band or the crowd gain may be raised", wired=True),
    _p("/mixer/auto_eq", _B, True, doc="correct the room response toward the target (off: the "
       "bands stay where they are)", wired=True),
    _p("/mixer/crowd_compensation", _B, True, doc="raise the gain to keep the music above the "
       "crowd (off: back to the static gain)", wired=True),
    _p("/mixer/crowd_level_db", _F, -120.0, -120.0, 40.0, "dB",
       "read-only: crowd/ambient level at the room mic, dBFS", wired=True),
    _p("/mixer/music_level_db", _F, -120.0, -120.0, 40.0, "dB",
       "read-only: the programme's level at the room mic, dBFS", wired=True),
    _p("/mixer/gain_db", _F, 0.0, -120.0, 40.0, "dB",
       "read-only: gain in force (static + crowd compensation)", wired=True),
    _p("/mixer/limiter_gain_db", _F, 0.0, -120.0, 40.0, "dB",
       "read-only: deepest limiter gain reduction in the last half second", wired=True),
    # MIDI ([midi] enabled) and Ableton Link (liveai.control.midi, liveai.control.link)
    _p("/midi/learn", _S, "", doc="MIDI learn: send a parameter's address; the next knob, fader, "
       "key or pad moved plays it (kept in midi.learn_file); empty = cancel", wired=True),
    _p("/midi/learn_mode", _C, "auto", doc="how a learned control plays its parameter (auto: "
       "toggle for on/off parameters on notes, momentary for triggers, else absolute)",
       choices=("auto", "absolute", "momentary", "toggle"), wired=True),
    _p("/midi/forget", _S, "", doc="remove the learned MIDI mappings of this address",
       wired=True),
    _p("/midi/connected", _B, False, doc="read-only: the MIDI input port is open", wired=True),
    _p("/midi/clock_out", _B, False, doc="send MIDI clock (24 ppqn, start/stop) from liveai's "
       "tempo", wired=True),
    _p("/midi/clock_in/follow", _B, False, doc="follow the MIDI clock on the input while its "
       "transport runs", wired=True),
    _p("/midi/clock_in/running", _B, False, doc="read-only: the incoming MIDI clock's "
       "transport runs", wired=True),
    _p("/midi/clock_in/bpm", _F, 0.0, 0.0, 999.0, "BPM",
       "read-only: tempo of the incoming MIDI clock (0: none)", wired=True),
    _p("/link/enabled", _B, False, doc="take part in the Ableton Link session", wired=True),
    _p("/link/mode", _C, "follow", doc="follow: tempo and beat phase come from Link (while "
       "other peers are there); lead: liveai's tempo and beats go to Link",
       choices=("follow", "lead"), wired=True),
    _p("/link/quantum", _I, 4, 1, 16, "beats", "beats per bar shared with the Link session",
       wired=True),
    _p("/link/peers", _I, 0, 0, 1000, "", "read-only: other apps in the Link session",
       wired=True),
    _p("/link/bpm", _F, 0.0, 0.0, 999.0, "BPM",
       "read-only: the Link session's tempo (0: Link off)", wired=True),
)


def engine_store(capacity: int = DEFAULT_CAPACITY, snapshot_buffer: Any = None) -> ParameterStore:
    """A store holding :data:`ENGINE_PARAMETERS` at their defaults."""
    store = ParameterStore(capacity, snapshot_buffer)
    store.register_many(ENGINE_PARAMETERS)
    return store
