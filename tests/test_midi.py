"""MIDI through real JACK MIDI ports on the dummy server: a controller played by a second rtmidi
client, mappings, learn, LED feedback, clock in and clock out."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import tomllib

import mido
import numpy as np
import pytest
import rtmidi
from conftest import run_cli, wait_until
from fake_engine import FakeEngine

from liveai.app import Engine, build_source
from liveai.config import ConfigError, MidiConfig, MidiMapConfig, ShowConfig, build, load_show
from liveai.control.clock import EngineBeats
from liveai.control.midi import (
    CLOCK,
    START,
    STOP,
    MidiControl,
    MidiMapper,
    load_learned,
)
from liveai.frame import new_frame
from liveai.params import engine_store

pytestmark = pytest.mark.jack


def cc(ch: int, number: int, value: int) -> list[int]:
    return [0xB0 | (ch - 1), number, value]


def note_on(ch: int, note: int, velocity: int) -> list[int]:
    return [0x90 | (ch - 1), note, velocity]


class Controller:
    """A MIDI controller: an output into liveai's input, an input from liveai's output."""

    def __init__(self, to_port: str = "liveai-in:midi", from_port: str | None = "liveai-out:midi"):
        self.out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, "test-controller")
        self.out.open_port(self._index(self.out, to_port), "out")
        self.inp = None
        self.received: list[tuple[float, float, list[int]]] = []
        self._jack_s = 0.0
        if from_port is not None:
            self.inp = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, "test-controller-in")
            self.inp.ignore_types(sysex=True, timing=False, active_sense=True)
            self.inp.open_port(self._index(self.inp, from_port), "in")
            self.inp.set_callback(self._on)  # a test client may take the GIL in JACK's thread

    @staticmethod
    def _index(rt, name: str) -> int:
        ports = wait_until(lambda: [p for p in rt.get_ports() if name in p] or None, 10,
                           f"the JACK MIDI port {name}")
        return rt.get_ports().index(ports[0])

    def _on(self, event, _data) -> None:
        # (monotonic s, JACK time of arrival from rtmidi's delta times, s; the message): the
        # JACK time is free of the test process's own scheduling jitter.
        self._jack_s += event[1]
        self.received.append((time.monotonic(), self._jack_s, event[0]))

    def send(self, data: list[int]) -> None:
        self.out.send_message(data)

    def messages(self) -> list[list[int]]:
        return [m for _, _, m in self.received]

    def close(self) -> None:
        self.out.delete()
        if self.inp is not None:
            self.inp.cancel_callback()
            self.inp.delete()


@pytest.fixture
def midi(jack_server, tmp_path):
    """Factory: a MidiControl on a JACK dummy server, and a controller played by the test."""
    jack_server()
    made: list = []

    def start(config: MidiConfig | None = None, store=None, beats=None, controller=True,
              **changes):
        config = config or MidiConfig(enabled=True, backend="jack",
                                      learn_file=str(tmp_path / "midi.toml"), reconnect_s=0.2,
                                      **changes)
        store = store or engine_store()
        control = MidiControl(store, config, beats)
        control.start()
        made.append(control)
        ctl = None
        if controller:
            ctl = Controller()
            made.append(ctl)
        return control, store, ctl

    yield start
    for thing in reversed(made):
        if isinstance(thing, MidiControl):
            thing.stop()
        else:
            thing.close()


def test_cc_absolute_sets_parameter_and_feedback_goes_back_to_the_leds(midi):
    maps = [MidiMapConfig(type="cc", channel=1, number=7, address="/liveai/master/intensity"),
            MidiMapConfig(type="cc", channel=0, number=20, address="/liveai/tempo/nudge_ms",
                          range=[10.0, 20.0])]
    control, store, ctl = midi(map=maps)
    assert control.backend == "JACK" and control.connected
    assert store.get("/liveai/midi/connected") is True
    ctl.send(cc(1, 7, 0))
    wait_until(lambda: store.get("/liveai/master/intensity") == 0.0, 10, "CC 7 = 0 applied")
    ctl.send(cc(1, 7, 127))
    wait_until(lambda: store.get("/liveai/master/intensity") == 1.0, 10, "CC 7 = 127 applied")
    ctl.send(cc(2, 7, 0))  # another channel: not mapped
    ctl.send(cc(5, 20, 127))  # channel 0 in the map = any channel, range 10..20
    wait_until(lambda: store.get("/liveai/tempo/nudge_ms") == 20.0, 10, "CC 20 on channel 5")
    assert store.get("/liveai/master/intensity") == 1.0
    # A change from elsewhere (a tablet over OSC) lights the controller's LEDs.
    store.set("/liveai/master/intensity", 0.5, "osc:127.0.0.1:9000")
    wait_until(lambda: cc(1, 7, 64) in ctl.messages(), 10, "CC feedback of 0.5 (64)")
    store.set("/liveai/tempo/nudge_ms", 15.0, "osc")
    wait_until(lambda: cc(1, 20, 64) in ctl.messages(), 10, "CC feedback on the range 10..20")


def test_note_modes_toggle_and_momentary_with_note_feedback(midi):
    maps = [MidiMapConfig(type="note", channel=10, number=36, address="/liveai/master/blackout",
                          mode="toggle"),
            MidiMapConfig(type="note", channel=10, number=37, address="/liveai/master/freeze",
                          mode="momentary"),
            MidiMapConfig(type="note", channel=10, number=38, address="/liveai/scene/next")]
    _control, store, ctl = midi(map=maps)
    ctl.send(note_on(10, 36, 100))
    wait_until(lambda: store.get("/liveai/master/blackout") is True, 10, "toggle on")
    ctl.send(note_on(10, 36, 0))  # the release of a toggle changes nothing
    ctl.send(note_on(10, 37, 90))
    wait_until(lambda: store.get("/liveai/master/freeze") is True, 10, "momentary held")
    assert store.get("/liveai/master/blackout") is True
    ctl.send([0x80 | 9, 37, 0])  # note off
    wait_until(lambda: store.get("/liveai/master/freeze") is False, 10, "momentary released")
    ctl.send(note_on(10, 36, 127))
    wait_until(lambda: store.get("/liveai/master/blackout") is False, 10, "toggle off again")
    for _ in range(3):
        ctl.send(note_on(10, 38, 127))
        ctl.send(note_on(10, 38, 0))
    wait_until(lambda: store.get("/liveai/scene/next") == 3, 10, "three trigger presses")
    # Pad LEDs: note on with velocity 127 = lit, 0 = dark, on the mapping's channel.
    wait_until(lambda: note_on(10, 36, 127) in ctl.messages()
               and note_on(10, 36, 0) in ctl.messages(), 10, "pad LED on and off")


def test_learn_binds_the_next_control_and_keeps_it_in_the_learn_file(midi, tmp_path):
    _control, store, ctl = midi()
    assert store.set("/liveai/midi/learn", "/liveai/master/intensity", "osc").ok
    ctl.send(cc(3, 71, 127))
    wait_until(lambda: store.get("/liveai/midi/learn") == "", 10, "learn finished")
    wait_until(lambda: store.get("/liveai/master/intensity") == 1.0, 10, "learned CC applied")
    ctl.send(cc(3, 71, 0))
    wait_until(lambda: store.get("/liveai/master/intensity") == 0.0, 10, "learned CC plays")
    # A note learned onto an on/off parameter toggles.
    store.set("/liveai/midi/learn", "/liveai/mixer/bypass", "osc")
    ctl.send(note_on(1, 60, 100))
    wait_until(lambda: store.get("/liveai/mixer/bypass") is True, 10, "learned note toggles")
    saved = load_learned(tmp_path / "midi.toml")
    assert [(m.type, m.channel, m.number, m.address, m.mode) for m in saved] == [
        ("cc", 3, 71, "/liveai/master/intensity", "absolute"),
        ("note", 1, 60, "/liveai/mixer/bypass", "toggle")]
    assert not list(tmp_path.glob("*.tmp"))  # written atomically, nothing left behind
    # Learning the same address again moves it; forgetting removes it.
    store.set("/liveai/midi/learn", "/liveai/master/intensity", "osc")
    ctl.send(cc(3, 72, 10))  # a knob barely moved is learned too
    wait_until(lambda: store.get("/liveai/midi/learn") == "", 10, "second learn finished")
    numbers = [m.number for m in load_learned(tmp_path / "midi.toml")
               if m.address == "/liveai/master/intensity"]
    assert numbers == [72]
    store.set("/liveai/midi/forget", "/liveai/mixer/bypass", "osc")
    wait_until(lambda: store.get("/liveai/midi/forget") == "", 10, "forget done")
    assert [m.address for m in load_learned(tmp_path / "midi.toml")] == [
        "/liveai/master/intensity"]
    # A bad learn target is refused and cancelled.
    store.set("/liveai/midi/learn", "/liveai/no/such", "osc")
    wait_until(lambda: store.get("/liveai/midi/learn") == "", 10, "bad learn cancelled")


def test_learned_mappings_are_loaded_at_start(midi, tmp_path):
    (tmp_path / "midi.toml").write_text(
        '[[map]]\ntype = "cc"\nchannel = 2\nnumber = 1\naddress = "/liveai/visual/latency_ms"\n'
        'mode = "absolute"\nrange = [0.0, 127.0]\n', encoding="utf-8")
    _control, store, ctl = midi()
    ctl.send(cc(2, 1, 100))
    wait_until(lambda: store.get("/liveai/visual/latency_ms") == 100.0, 10, "learned map loaded")


def test_a_broken_learn_file_is_set_aside_and_midi_still_runs(midi, tmp_path, caplog):
    (tmp_path / "midi.toml").write_text("[[map]]\ntype = 'pitchbend'\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        control, _store, _ctl = midi()
    assert "learning starts afresh" in caplog.text
    assert (tmp_path / "midi.toml.broken").is_file()
    assert control.connected


def test_missing_controller_is_logged_and_found_when_plugged_in(midi, caplog):
    with caplog.at_level(logging.INFO):
        control, store, _ = midi(controller=False, input="Launchpad X")
    assert "'Launchpad X' not found" in caplog.text
    assert not control.connected and store.get("/liveai/midi/connected") is False
    store.set("/liveai/midi/learn", "", "osc")  # the store works on
    # The controller is plugged in: a port with that name appears, liveai connects to it.
    pad = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, "Launchpad X")
    pad.open_virtual_port("LPX MIDI")
    try:
        wait_until(lambda: control.connected, 15, "the controller found after plugging in")
        assert store.get("/liveai/midi/connected") is True
        control.mapper.preset_maps.append(
            MidiMapConfig(type="cc", channel=1, number=1, address="/liveai/master/intensity"))
        control.mapper.rebind()
        pad.send_message(cc(1, 1, 0))
        wait_until(lambda: store.get("/liveai/master/intensity") == 0.0, 10, "pad CC applied")
    finally:
        pad.delete()


def test_no_jack_server_leaves_midi_off_and_the_show_running(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "liveai-test-no-such-server")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    store = engine_store()
    control = MidiControl(store, MidiConfig(enabled=True, backend="jack",
                                            learn_file=str(tmp_path / "m.toml")))
    with caplog.at_level(logging.WARNING):
        control.start()
    assert "MIDI is off" in caplog.text and "JACK" in caplog.text
    assert not control.connected
    control.stop()


def _clock_rate(times: list[float]) -> float:
    """Tempo (BPM) of a run of ticks, from a least-squares line through all of them.

    First-to-last would rest on two ticks: one sent 40 ms late by a busy machine moves that
    reading by 1 % over eight beats, while the clock keeps its phase (it catches up after).
    """
    seconds_per_tick = np.polyfit(np.arange(len(times)), np.asarray(times, float), 1)[0]
    return 60.0 / (24 * seconds_per_tick)


def test_clock_in_gives_tempo_and_position_with_song_position_pointer(midi):
    control, store, ctl = midi(clock_in=True)
    assert store.get("/liveai/midi/clock_in/follow") is True
    bpm = 125.0
    tick_s = 60.0 / (24 * bpm)
    stop = threading.Event()
    sent = {"ticks": 0}

    def play(start: list[int] | None) -> None:
        if start:
            ctl.send(start)
        t0 = time.monotonic()
        n = 0
        while not stop.is_set():
            ctl.send([CLOCK])
            n += 1
            sent["ticks"] += 1
            sent["last"] = time.monotonic()
            time.sleep(max(0.0, t0 + n * tick_s - time.monotonic()))

    th = threading.Thread(target=play, args=([START],))
    th.start()
    try:
        wait_until(lambda: store.get("/liveai/midi/clock_in/running"), 10, "clock running")
        wait_until(lambda: abs(store.get("/liveai/midi/clock_in/bpm") - bpm) < 1.0, 15,
                   "clock-in tempo near 125 BPM")
        wait_until(lambda: sent["ticks"] > 96, 15, "four beats of clock")
        got = control.clock.read()
        assert got is not None and got[0] == pytest.approx(bpm, rel=0.01)
        # Position: the first tick after Start is beat 0, so position = (ticks sent - 1) / 24,
        # give or take the ticks in flight.
        expected = (sent["ticks"] - 1) / 24
        assert abs(got[1] - expected) < 0.25, (got, expected)
    finally:
        stop.set()
        th.join()
    ctl.send([STOP])
    wait_until(lambda: not store.get("/liveai/midi/clock_in/running"), 10, "clock stopped")
    assert control.clock.read() is None  # a stopped clock is not followed
    # Song position pointer: 32 sixteenths = beat 8, then Continue.
    ctl.send([0xF2, 32, 0])
    stop.clear()
    sent["ticks"] = 0
    th = threading.Thread(target=play, args=([0xFB],))
    th.start()
    try:
        wait_until(lambda: sent["ticks"] > 48, 15, "two beats after continue")
        got = wait_until(control.clock.read, 10, "clock followed after continue")
        expected = 8 + (sent["ticks"] - 1) / 24
        assert abs(got[1] - expected) < 0.25, (got, expected)
    finally:
        stop.set()
        th.join()
    wait_until(lambda: control.clock.read() is None, 10, "a silent clock is released")


def test_clock_out_is_phase_locked_to_the_engine_and_a_second_liveai_follows_it(midi):
    engine = FakeEngine(bpm=125.0)
    try:
        beats = EngineBeats(engine.record, 4)
        _sender, store, ctl = midi(beats=beats, clock_out=True)
        # A second liveai reads the first one's clock out (JACK renames its ports -01).
        receiver, rstore, _ = midi(controller=False, input="liveai-out:midi", clock_in=True)
        wait_until(lambda: receiver.connected, 10, "receiver connected")
        wait_until(lambda: len([m for m in ctl.messages() if m == [CLOCK]]) > 24 * 8, 30,
                   "eight beats of clock out")
        received = list(ctl.received)
        starts = [i for i, (_, _, m) in enumerate(received) if m == [START]]
        assert len(starts) == 1
        ticks = [t for t, _, m in received[starts[0]:] if m == [CLOCK]]
        jack_ticks = [t for _, t, m in received[starts[0]:] if m == [CLOCK]]
        assert _clock_rate(jack_ticks) == pytest.approx(125.0, rel=0.01)
        # Start went out on a downbeat; tick k is at beat start + k/24 of the engine's grid.
        start_beat = engine.position(ticks[0])
        bar = round(start_beat / 4) * 4
        errors = [engine.position(t) - (bar + k / 24) for k, t in enumerate(ticks)]
        assert abs(float(np.median(errors))) < 0.05, np.median(errors)
        # The second liveai takes tempo and bar phase from it.
        got = wait_until(receiver.clock.read, 10, "receiver following the clock")
        assert got[0] == pytest.approx(125.0, rel=0.02)
        now = time.monotonic()
        got = receiver.clock.read(now)
        phase_error = (got[1] - (engine.position(now) - bar) + 2) % 4 - 2
        assert abs(phase_error) < 0.1
        assert rstore.get("/liveai/midi/clock_in/bpm") == pytest.approx(125.0, abs=1.5)
        # Clock out off: Stop goes out.
        store.set("/liveai/midi/clock_out", False, "osc")
        wait_until(lambda: [STOP] in ctl.messages(), 10, "Stop after clock out was turned off")
    finally:
        engine.close()


# -- no ports: the mapper and the config ---------------------------------------------------------
def test_mapper_scales_ranges_choices_and_refuses_nothing_outside_the_range():
    store = engine_store()
    maps = [MidiMapConfig(type="cc", number=1, address="/liveai/autopilot/mode"),
            MidiMapConfig(type="cc", number=2, address="/liveai/scene/index", range=[0, 7]),
            MidiMapConfig(type="cc", number=3, address="/liveai/transition/duration/norm"),
            MidiMapConfig(type="cc", number=4, address="/liveai/scene/name"),  # a string: no
            MidiMapConfig(type="cc", number=5, address="/liveai/nothing/here")]
    mapper = MidiMapper(store, maps)
    assert set(mapper.by_address) == {"/liveai/autopilot/mode", "/liveai/scene/index",
                                      "/liveai/transition/duration"}
    mapper.handle(mido.Message("control_change", control=1, value=127))
    assert store.get("/liveai/autopilot/mode") == "no-repeat"
    mapper.handle(mido.Message("control_change", control=1, value=0))
    assert store.get("/liveai/autopilot/mode") == "sequence"
    mapper.handle(mido.Message("control_change", control=2, value=127))
    assert store.get("/liveai/scene/index") == 7
    mapper.handle(mido.Message("control_change", control=3, value=127))
    assert store.get("/liveai/transition/duration") == 600.0
    fb = mapper.feedback("/liveai/scene/index", 7)
    assert [m.bytes() for m in fb] == [[0xB0, 2, 127]]


def test_midi_config_from_toml_and_its_errors():
    table = tomllib.loads("""
[midi]
enabled = true
input = "APC"
clock_out = true
[[midi.map]]
type = "note"
channel = 1
number = 53
address = "/liveai/master/blackout"
mode = "toggle"
[link]
enabled = true
mode = "lead"
quantum = 3
""")
    config = build(ShowConfig, table, "show.toml")
    config.validate("show.toml")
    assert config.midi.map[0].mode == "toggle" and config.link.quantum == 3
    bad = [("[midi]\nbackend = 'coremidi'", "is not one of"),
           ("[[midi.map]]\nnumber = 128\naddress = '/liveai/x'", "out of range"),
           ("[[midi.map]]\naddress = 'master/intensity'", "parameter address"),
           ("[[midi.map]]\naddress = '/liveai/x'\nrange = [1, 0]", "low < high"),
           ("[link]\nmode = 'boss'", "is not one of")]
    for text, why in bad:
        with pytest.raises(ConfigError, match=why):
            build(ShowConfig, tomllib.loads(text), "show.toml").validate("show.toml")


def test_the_engine_follows_midi_clock_and_plays_mapped_controls(jack_server, tmp_path):
    jack_server()
    config, _ = load_show("default")
    maps = [MidiMapConfig(type="cc", channel=1, number=7, address="/liveai/master/intensity")]
    config = dataclasses.replace(config, midi=MidiConfig(
        enabled=True, backend="jack", clock_in=True, map=maps,
        learn_file=str(tmp_path / "midi.toml")))
    engine = Engine(config, build_source(config, demo=True), projector=False)
    engine.start()
    ctl = Controller()
    stop = threading.Event()

    def play() -> None:
        ctl.send([START])
        t0, n = time.monotonic(), 0
        while not stop.is_set():
            ctl.send([CLOCK])
            n += 1
            time.sleep(max(0.0, t0 + n * 60.0 / (24 * 100.0) - time.monotonic()))

    th = threading.Thread(target=play)
    th.start()
    try:
        frame = new_frame()

        def tempo() -> float:
            engine.record.read(frame)
            return float(frame["tempo_bpm"])

        wait_until(lambda: abs(tempo() - 100.0) < 0.5, 30, "the engine's tempo from MIDI clock")
        assert engine._clocks.following == "MIDI clock"
        ctl.send(cc(1, 7, 0))
        wait_until(lambda: engine.params.get("/liveai/master/intensity") == 0.0, 10, "CC 7")
    finally:
        stop.set()
        th.join()
        engine.stop()
        engine.close()
        ctl.close()
    assert any(line.startswith("MIDI (JACK)") for line in
               engine.summary(1.0, "test").lines())


def test_liveai_midi_lists_the_ports(jack_server, monkeypatch):
    jack_server()
    pad = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, "Launchpad X")
    pad.open_virtual_port("LPX MIDI")
    try:
        res = run_cli("midi")
        assert res.returncode == 0, res.stderr
        assert "MIDI backend: JACK" in res.stdout and "Launchpad X:LPX MIDI" in res.stdout
    finally:
        pad.delete()
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "liveai-test-no-such-server")
    res = run_cli("midi", "--backend", "jack")
    assert res.returncode == 1 and "no MIDI backend" in res.stderr
