"""ParameterStore: validation, coercion, listeners, the lock-free snapshot, the address tree."""

from __future__ import annotations

import math
import mmap
import threading
from pathlib import Path

import numpy as np
import pytest

from liveai.params import (
    ENGINE_PARAMETERS,
    ParameterError,
    ParameterStore,
    ParamSnapshot,
    ParamSpec,
    ParamType,
    coerce,
    engine_store,
)

ROOT = Path(__file__).resolve().parent.parent
F, INT, B, C, S, T = (ParamType.FLOAT, ParamType.INT, ParamType.BOOL, ParamType.CHOICE,
                      ParamType.STRING, ParamType.TRIGGER)


def _store() -> ParameterStore:
    store = ParameterStore(capacity=64)
    store.register_many([
        ParamSpec("/liveai/t/gain", F, 0.5, 0.0, 2.0, unit="", description="gain"),
        ParamSpec("/liveai/t/count", INT, 3, 0, 10),
        ParamSpec("/liveai/t/on", B, False),
        ParamSpec("/liveai/t/mode", C, "b", choices=("a", "b", "c")),
        ParamSpec("/liveai/t/label", S, "x"),
        ParamSpec("/liveai/t/go", T),
        ParamSpec("/liveai/t/xy", F, (0.0, 0.0), -1.0, 1.0, size=2),
    ])
    return store


@pytest.mark.parametrize(("address", "sent", "stored"), [
    ("/liveai/t/gain", 1, 1.0),                # desks send ints for floats
    ("/liveai/t/gain", "1.5", 1.5),            # and strings for numbers
    ("/liveai/t/gain", [0.25], 0.25),          # one OSC argument as a list
    ("/liveai/t/gain/norm", 0.5, 1.0),         # TouchOSC's 0..1 mapped onto the range
    ("/liveai/t/count", 7.0, 7),
    ("/liveai/t/count", 6.6, 7),               # rounded
    ("/liveai/t/count", " 4 ", 4),
    ("/liveai/t/count/norm", 1.0, 10),
    ("/liveai/t/on", 1, True),
    ("/liveai/t/on", 1.0, True),
    ("/liveai/t/on", "on", True),
    ("/liveai/t/mode", "c", "c"),
    ("/liveai/t/mode", "A", "a"),
    ("/liveai/t/mode", 2, "c"),                # 0-based index
    ("/liveai/t/mode", "0", "a"),
    ("/liveai/t/label", "scene two", "scene two"),
    ("/liveai/t/xy", (0.5, -1), (0.5, -1.0)),
])
def test_values_desks_and_tablets_send_are_coerced(address, sent, stored):
    store = _store()
    result = store.set(address, sent, "test")
    assert result.ok, result.message
    assert store.get(result.address) == stored
    assert type(store.get(result.address)) is type(stored)


@pytest.mark.parametrize(("address", "sent", "reason"), [
    ("/liveai/t/gain", math.nan, "not_finite"),
    ("/liveai/t/gain", math.inf, "not_finite"),
    ("/liveai/t/gain", "nan", "not_finite"),
    ("/liveai/t/gain", 2.0001, "out_of_range"),
    ("/liveai/t/gain", -1, "out_of_range"),
    ("/liveai/t/gain", 10**400, "out_of_range"),
    ("/liveai/t/gain", "loud", "bad_type"),
    ("/liveai/t/gain", b"\x00\x01", "bad_type"),
    ("/liveai/t/gain", (1.0, 2.0), "bad_type"),
    ("/liveai/t/gain", None, "bad_type"),
    ("/liveai/t/gain/norm", 1.5, "out_of_range"),
    ("/liveai/t/count", 11, "out_of_range"),
    ("/liveai/t/on", 0.5, "out_of_range"),
    ("/liveai/t/on", "maybe", "bad_type"),
    ("/liveai/t/mode", "d", "bad_value"),
    ("/liveai/t/mode", 3, "out_of_range"),
    ("/liveai/t/mode", 1.5, "out_of_range"),
    ("/liveai/t/label", 5, "bad_type"),
    ("/liveai/t/label", "x" * 300, "out_of_range"),
    ("/liveai/t/label", "a\x00b", "bad_value"),
    ("/liveai/t/xy", (0.5,), "bad_type"),
    ("/liveai/t/xy", (0.5, 2.0), "out_of_range"),
    ("/liveai/t/go", "now", "bad_type"),
    ("/liveai/t/on/norm", 1.0, "unknown_address"),  # only numeric ranges have /norm
    ("/liveai/t/nothing", 1.0, "unknown_address"),
])
def test_bad_values_are_refused_with_a_reason_and_change_nothing(address, sent, reason):
    store = _store()
    before = {a: store.get(a) for a in store.addresses()}
    version = store.snapshot.version
    result = store.set(address, sent, "test")
    assert not result.ok
    assert result.reason == reason, result.message
    assert result.message
    assert {a: store.get(a) for a in store.addresses()} == before
    assert store.snapshot.version == version


def test_listeners_hear_each_change_once_with_its_source_in_order():
    store = _store()
    heard = []
    store.subscribe(lambda a, v, s: heard.append((a, v, s)))
    store.set("/liveai/t/gain", 1.0, "osc:1.2.3.4:9000")
    store.set("/liveai/t/gain", 1.0, "osc:1.2.3.4:9000")  # unchanged: nobody is told
    store.set("/liveai/t/gain", 9.0, "osc:1.2.3.4:9000")  # refused: nobody is told
    store.set("/liveai/t/mode", 0, "midi")
    store.set("/liveai/t/go", None, "ui")
    store.set("/liveai/t/go", 0, "ui")  # a button's release
    store.set("/liveai/t/go", 1, "ui")
    assert heard == [("/liveai/t/gain", 1.0, "osc:1.2.3.4:9000"), ("/liveai/t/mode", "a", "midi"),
                     ("/liveai/t/go", 1, "ui"), ("/liveai/t/go", 2, "ui")]


def test_a_failing_listener_neither_stops_the_write_nor_the_others():
    store = _store()
    heard = []

    def broken(*_):
        raise RuntimeError("listener bug")

    store.subscribe(broken)
    store.subscribe(lambda a, v, s: heard.append(v))
    assert store.set("/liveai/t/count", 5).changed
    assert store.get("/liveai/t/count") == 5 and heard == [5]
    assert store.listener_errors == 1


def test_snapshot_slots_follow_the_values():
    store = _store()
    snap = store.snapshot
    store.set("/liveai/t/gain", 1.25)
    store.set("/liveai/t/on", True)
    store.set("/liveai/t/mode", "c")
    store.set("/liveai/t/label", "new")
    store.set("/liveai/t/go")
    store.set("/liveai/t/go")
    store.set("/liveai/t/xy", (0.25, -0.5))
    out = np.zeros(snap.capacity)
    version = snap.read(out)
    assert version == snap.version and version > 0
    slot = store.slot
    assert out[slot("/liveai/t/gain")] == 1.25
    assert out[slot("/liveai/t/on")] == 1.0
    assert out[slot("/liveai/t/mode")] == 2.0  # the choice's index
    assert out[slot("/liveai/t/label")] == 1.0  # strings: a change counter
    assert out[slot("/liveai/t/go")] == 2.0  # triggers: a fire counter
    assert tuple(out[slot("/liveai/t/xy") : slot("/liveai/t/xy") + 2]) == (0.25, -0.5)
    layout = {p["address"]: p for p in store.layout()}
    assert layout["/liveai/t/xy"]["size"] == 2
    assert layout["/liveai/t/mode"]["choices"] == ["a", "b", "c"]


def test_snapshot_in_shared_memory_is_read_by_another_mapping(tmp_path):
    path = tmp_path / "params"
    path.write_bytes(b"\x00" * ParamSnapshot.nbytes(64))
    with path.open("r+b") as f:
        writer_map = mmap.mmap(f.fileno(), 0)
        reader_map = mmap.mmap(f.fileno(), 0)
    store = engine_store(capacity=64, snapshot_buffer=writer_map)
    reader = ParamSnapshot(64, reader_map)
    store.set("/liveai/master/intensity", 0.3)
    out = np.zeros(64)
    assert reader.read(out) == store.snapshot.version
    assert reader.layout_version == store.snapshot.layout_version > 0
    assert out[store.slot("/liveai/master/intensity")] == 0.3
    del store, reader, out


def test_readers_never_see_a_torn_vector_while_a_writer_runs():
    store = _store()
    address = "/liveai/t/xy"
    slot = store.slot(address)
    stop = threading.Event()

    def writer():
        k = 0
        while not stop.is_set():
            k += 1
            v = (k % 1000) / 1000.0
            store.set(address, (v, -v))

    t = threading.Thread(target=writer)
    t.start()
    out = np.zeros(slot + 2)
    versions = []
    try:
        for _ in range(20000):
            version = store.snapshot.read(out)
            if version >= 0:
                versions.append(version)
                assert out[slot] == -out[slot + 1], (out[slot], out[slot + 1])
    finally:
        stop.set()
        t.join()
    assert len(versions) > 1000 and versions[-1] > versions[0]


def test_concurrent_writers_keep_every_value_in_range_and_count_every_trigger():
    store = _store()
    rng = np.random.default_rng(7)
    values = rng.uniform(-1.0, 3.0, size=(4, 2000))

    def writer(row):
        for v in row:
            store.set("/liveai/t/gain", float(v), "thread")
            store.set("/liveai/t/go", None, "thread")

    threads = [threading.Thread(target=writer, args=(row,)) for row in values]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 0.0 <= store.get("/liveai/t/gain") <= 2.0
    assert store.get("/liveai/t/go") == 4 * 2000


def test_registration_refuses_what_would_break_the_tree():
    store = _store()
    with pytest.raises(ParameterError, match="already registered"):
        store.register(ParamSpec("/liveai/t/gain", F, 0.0, 0.0, 5.0))
    store.register(ParamSpec("/liveai/t/gain", F, 0.5, 0.0, 2.0, description="gain"))  # same
    bad = [
        ParamSpec("/other/x", F, 0.0, 0.0, 1.0),
        ParamSpec("/liveai/x/norm", F, 0.0, 0.0, 1.0),
        ParamSpec("/liveai/x y", F, 0.0, 0.0, 1.0),
        ParamSpec("/liveai/x", F, 2.0, 0.0, 1.0),
        ParamSpec("/liveai/x", F, 0.0, 0.0, math.inf),
        ParamSpec("/liveai/x", C, "z", choices=("a", "b")),
        ParamSpec("/liveai/x", T, 1),
        ParamSpec("/liveai/t/gain/more", F, 0.0, 0.0, 1.0),  # below a parameter
        ParamSpec("/liveai/t", F, 0.0, 0.0, 1.0),  # above parameters
    ]
    for spec in bad:
        with pytest.raises(ParameterError):
            store.register(spec)


def test_unregister_frees_slots_and_moves_the_layout_version():
    store = _store()
    store.register(ParamSpec("/liveai/scene/tunnel/speed", F, 1.0, 0.0, 4.0))
    store.register(ParamSpec("/liveai/scene/tunnel/color", F, (1.0, 0.0, 0.0, 1.0), 0.0, 1.0,
                             size=4))
    layout = store.snapshot.layout_version
    slot = store.slot("/liveai/scene/tunnel/speed")
    assert store.unregister("/liveai/scene/tunnel") == 2
    assert "/liveai/scene/tunnel/speed" not in store
    assert store.snapshot.layout_version > layout
    assert not store.set("/liveai/scene/tunnel/speed", 2.0).ok
    store.register(ParamSpec("/liveai/scene/plasma/speed", F, 1.0, 0.0, 4.0))
    assert store.slot("/liveai/scene/plasma/speed") == slot  # reused


def test_coerce_normalised_int_stays_in_range():
    spec = ParamSpec("/liveai/x", INT, 0, 0, 3)
    assert [coerce(spec, v / 10, normalised=True) for v in range(11)] == [
        0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3]


def test_every_engine_parameter_is_described_and_the_readme_tree_is_in_step():
    store = engine_store()
    assert len(store) == len(ENGINE_PARAMETERS)
    assert all(s.description for s in store.specs())
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- osc-tree:begin -->")[1].split("<!-- osc-tree:end -->")[0]
    assert block.strip() == store.tree_markdown().strip(), (
        "README OSC address tree is stale: regenerate it with\n"
        "  .venv/bin/liveai osc tree --markdown"
    )


READER = r"""
import json, sys, time
from liveai.params import SharedParams
shared = SharedParams.attach(sys.argv[1])
print(json.dumps({"ready": True}), flush=True)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    if (shared.value("/liveai/master/intensity") == 0.25
            and shared.value("/liveai/scenes/tunnel/center") == (0.5, -0.5)):
        break
    time.sleep(0.01)
print(json.dumps({"intensity": shared.value("/liveai/master/intensity"),
                  "center": shared.value("/liveai/scenes/tunnel/center"),
                  "blackout": shared.value("/liveai/master/blackout"),
                  "unknown": shared.value("/liveai/nothing")}), flush=True)
shared.close()
"""


def test_another_process_reads_values_and_new_parameters_through_shared_memory():
    import json
    import subprocess
    import sys

    from liveai.params import SharedParams

    shared = SharedParams.create(capacity=256)
    store = engine_store(capacity=shared.capacity, snapshot_buffer=shared.buffer)
    shared.follow(store)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(shared.path)],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert json.loads(reader.stdout.readline())["ready"]
        # a scene loads after the reader attached: its inputs appear in the layout
        store.register(ParamSpec("/liveai/scenes/tunnel/center", F, (0.0, 0.0), -1.0, 1.0,
                                 size=2))
        store.set("/liveai/scenes/tunnel/center", (0.5, -0.5), "test")
        store.set("/liveai/master/blackout", True, "test")
        store.set("/liveai/master/intensity", 0.25, "test")
        result = json.loads(reader.stdout.readline())
        assert reader.wait(timeout=30) == 0
    finally:
        if reader.poll() is None:
            reader.kill()
        path, layout = shared.path, shared.layout_path
        shared.close()
    assert result == {"intensity": 0.25, "center": [0.5, -0.5], "blackout": 1.0,
                      "unknown": None}
    assert not path.exists() and not layout.exists()
