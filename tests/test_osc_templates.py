"""OSC out address templates: desk dialects received by an independent peer (liblo's oscdump)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import numpy as np
import pytest
from conftest import run_cli
from pythonosc.osc_message import OscMessage

from liveai.config import OscTargetConfig, load_show
from liveai.control.osc_out import FeatureSender
from liveai.errors import ConfigError
from liveai.frame import SharedRecord, new_frame
from liveai.osc_templates import FEATURES, TEMPLATES, routes

pytestmark = pytest.mark.timeout(180)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _messages(out: str, address: str) -> list[list[str]]:
    """oscdump lines ``[time, address, types, args...]`` on one address."""
    lines = [ln.split() for ln in out.splitlines()]
    return [ln for ln in lines if len(ln) >= 4 and ln[1] == address]  # the last may be cut


def _seconds(stamp: str) -> float:
    """oscdump's receive time, NTP-style ``hex seconds.hex fraction``."""
    sec, frac = stamp.split(".")
    return int(sec, 16) + int(frac, 16) / 2**32


def test_desk_templates_reach_osc_peers(tmp_path):
    assert shutil.which("oscdump"), "liblo-tools is not installed; run 'make test'"
    ports = [_free_udp_port() for _ in range(3)]
    preset = tmp_path / "desks.toml"
    preset.write_text(f"""
[osc_out]
rate_hz = 50.0

[[osc_out.targets]]
address = "127.0.0.1:{ports[0]}"
template = "gma3"
scale = {{ bpm = [100, 150] }}
release_ms = 40

[[osc_out.targets]]
address = "127.0.0.1:{ports[1]}"
template = "resolume"

[[osc_out.targets]]
address = "127.0.0.1:{ports[2]}"
template = "custom"
map = {{ beat = "/show/flash", level = "/show/dimmer", bpm = "/show/tempo" }}
range = [0, 255]
""")
    dumps = [subprocess.Popen(["oscdump", str(p)], stdout=subprocess.PIPE, text=True)
             for p in ports]
    try:
        res = run_cli("run", "--demo", "--no-projector", "--seconds", "9", "--preset",
                      str(preset), timeout=150)
    finally:
        outs = []
        for d in dumps:
            d.terminate()
            outs.append(d.communicate(timeout=10)[0])
    assert res.returncode == 0, res.stderr
    gma3, resolume, custom = outs

    # grandMA3: every beat is a key press (i 1) followed by its release (i 0)
    keys = _messages(gma3, "/gma3/Page1/Key101")
    assert all(k[2] == "i" for k in keys), keys[:4]
    values = [int(k[3]) for k in keys]
    assert values.count(1) >= 6, gma3[-2000:]
    # strictly alternating; oscdump's last buffered line may be lost when it is stopped
    assert values == ([1, 0] * values.count(1))[:len(values)]
    # ... released release_ms = 40 later, scheduled in the sender thread (polled every 5 ms)
    times = [_seconds(k[0]) for k in keys]
    held_ms = [1000.0 * (times[i + 1] - times[i]) for i in range(0, len(keys) - 1, 2)]
    assert 35.0 <= np.median(held_ms) <= 80.0, held_ms
    # the level on a 0..100 fader, the bpm scaled from [100, 150]: 122 BPM → 44
    level = [float(m[3]) for m in _messages(gma3, "/gma3/Page1/Fader201")]
    assert level and all(0.0 <= v <= 100.0 for v in level) and max(level) > 1.0
    assert all(m[2] == "f" for m in _messages(gma3, "/gma3/Page1/Fader201"))
    bpm = [float(m[3]) for m in _messages(gma3, "/gma3/Page1/Fader203") if float(m[3]) > 0]
    assert np.median(bpm) == pytest.approx((122.0 - 100.0) / 50.0 * 100.0, abs=2.0)
    assert not _messages(gma3, "/liveai/beat")  # only the desk's own addresses

    # Resolume: normalised floats; the tempo controller's 20..500 BPM as 0..1
    tempo = [float(m[3]) for m in _messages(resolume, "/composition/tempocontroller/tempo")
             if float(m[3]) > 0]
    assert np.median(tempo) == pytest.approx((122.0 - 20.0) / 480.0, abs=0.005)
    link = _messages(resolume, "/composition/dashboard/link1")
    assert link and all(m[2] == "f" and 0.0 <= float(m[3]) <= 1.0 for m in link)
    resync = [float(m[3]) for m in _messages(resolume, "/composition/tempocontroller/resync")]
    assert set(resync) <= {0.0, 1.0}  # downbeats: the demo's first bar is found after ~13 s

    # a custom map with its own range: flashes 255 → 0, the level within 0..255
    flash = [float(m[3]) for m in _messages(custom, "/show/flash")]
    assert flash.count(255.0) >= 6 and set(flash) <= {0.0, 255.0}
    dimmer = [float(m[3]) for m in _messages(custom, "/show/dimmer")]
    assert dimmer and all(0.0 <= v <= 255.0 for v in dimmer) and max(dimmer) > 2.0
    tempo = [float(m[3]) for m in _messages(custom, "/show/tempo") if float(m[3]) > 0]
    assert np.median(tempo) == pytest.approx((122.0 - 60.0) / 140.0 * 255.0, abs=4.0)
    sent = {ln.split()[1] for ln in custom.splitlines() if len(ln.split()) >= 4}
    assert sent == {"/show/flash", "/show/dimmer", "/show/tempo"}


def test_bad_template_in_a_preset_is_one_clear_line(tmp_path):
    preset = tmp_path / "show.toml"
    preset.write_text('[[osc_out.targets]]\naddress = "127.0.0.1:8000"\ntemplate = "grandma3"\n')
    res = run_cli("run", "--preset", str(preset), "--seconds", "1")
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert str(preset) in lines[0] and "osc_out.targets[0].template" in lines[0]
    assert "did you mean 'gma3'" in lines[0]


@pytest.mark.parametrize(("body", "words"), [
    ('template = "gma3"\nmap = { beats = "/gma3/Page1/Key1" }',
     ["osc_out.targets[0].map", "'beats'", "did you mean 'beat'"]),
    ('template = "gma3"\nscale = { bmp = [60, 200] }',
     ["osc_out.targets[0].scale", "'bmp'", "did you mean 'bpm'"]),
    ('template = "gma3"\nscale = { bpm = [200, 60] }', ["scale.bpm", "low < high"]),
    ('template = "gma3"\nscale = { beat = [0, 1] }', ["no range"]),
    ('template = "qlcplus"\nrange = [0]', ["osc_out.targets[0].range"]),
    ('template = "custom"\nmap = { beat = "flash" }', ["map.beat", "OSC address"]),
    ('template = "resolume"\nprefix = "vj"', ["fixed addresses"]),
    ('map = { beat = "/x" }', ['template "liveai"']),
    ('template = "gma3"\nrelease_ms = 0', ["release_ms"]),
])
def test_bad_target_settings_name_file_and_key(tmp_path, body, words):
    preset = tmp_path / "show.toml"
    preset.write_text(f'[[osc_out.targets]]\naddress = "10.0.0.5:8000"\n{body}\n')
    with pytest.raises(ConfigError) as err:
        load_show(str(preset))
    msg = str(err.value)
    assert str(preset) in msg and "\n" not in msg
    for w in words:
        assert w in msg, msg


def test_host_port_strings_and_tables_mix(tmp_path):
    preset = tmp_path / "show.toml"
    preset.write_text('[osc_out]\ntargets = ["127.0.0.1:9000", '
                      '{ address = "10.0.0.5:8000", template = "eos" }]\n')
    config, _ = load_show(str(preset))
    a, b = config.osc_out.targets
    assert (a.address, a.template) == ("127.0.0.1:9000", "liveai")
    assert (b.address, b.template) == ("10.0.0.5:8000", "eos")


def test_templates_only_use_known_features_and_scale_values():
    for t in TEMPLATES.values():
        assert set(t.map) <= set(FEATURES), t.name
    (fader,) = [r for r in routes("gma3", prefix="desk") if r.feature == "level"]
    assert fader.address == "/desk/Page1/Fader201"
    assert (fader.value(0.5), fader.value(2.0), fader.value(float("nan"))) == (50.0, 100.0, 0.0)
    (key,) = [r for r in routes("gma3") if r.feature == "beat"]
    assert (key.shape, key.press, key.release) == ("key", 1, 0)
    (tempo,) = [r for r in routes("eos", mapping={"bpm": "/eos/fader/1/3"},
                                  scale={"bpm": [60, 180]}) if r.feature == "bpm"]
    assert tempo.value(120.0) == pytest.approx(0.5)
    assert not [r for r in routes("gma3", mapping={"beat": ""}) if r.feature == "beat"]


def test_desk_defaults_follow_the_vendors_documented_input():
    """Eos bumps subs (fire 1.0 / 0.0) and sets sub levels 0..1; MagicQ flashes playbacks and
    reads float levels as 0..1; QLC+ reads a float f as 255 * f, so nothing goes above 1.0."""
    eos = {r.feature: r for r in routes("eos")}
    assert eos["beat"].address == "/eos/sub/1/fire"
    assert (eos["beat"].shape, eos["beat"].press, eos["beat"].release) == ("key", 1.0, 0.0)
    assert eos["level"].address == "/eos/sub/4" and eos["level"].out_range == (0.0, 1.0)
    chamsys = {r.feature: r for r in routes("chamsys")}
    assert chamsys["drop"].address == "/pb/3/flash"
    assert (chamsys["drop"].press, chamsys["drop"].release) == (1.0, 0.0)
    assert chamsys["level"].address == "/pb/4" and chamsys["level"].value(2.0) == 1.0
    for r in routes("chamsys"):  # MagicQ's built-in addresses reach playbacks 1-10 only
        assert 1 <= int(r.address.split("/")[2]) <= 10, r.address
    qlc = routes("qlcplus")
    assert all(max(r.out_range) <= 1.0 and max(r.press, r.release) <= 1.0 for r in qlc)
    assert not any(TEMPLATES[n].verify for n in ("gma3", "eos", "chamsys", "qlcplus"))
    assert "20..500" in TEMPLATES["resolume"].verify


def test_key_release_is_scheduled_repressed_and_flushed_on_stop():
    """Press → release after release_ms; a press while held releases first; stop releases."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    port = sock.getsockname()[1]
    record = SharedRecord.create()
    frame = new_frame()
    record.publish(frame)
    target = OscTargetConfig(address=f"127.0.0.1:{port}", template="custom",
                             map={"beat": "/k"}, release_ms=300.0)
    sender = FeatureSender(record, [target], rate_hz=1.0)
    sender.start()
    got: list[tuple[float, float]] = []

    def receive() -> tuple[float, float]:
        data = sock.recv(1024)
        return float(OscMessage(data).params[0]), time.monotonic()

    try:
        t0 = time.monotonic()
        frame["beat_count"] = 1
        record.publish(frame)
        got.append(receive())            # press
        got.append(receive())            # release, 300 ms later
        frame["beat_count"] = 2
        record.publish(frame)
        got.append(receive())            # press
        frame["beat_count"] = 3          # again while held: release, then press
        record.publish(frame)
        got.append(receive())
        got.append(receive())
    finally:
        sender.stop()
    got.append(receive())                # stop releases the held key
    sock.close()
    record.close()
    assert [v for v, _ in got] == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert got[1][1] - got[0][1] >= 0.25  # held for release_ms (a lower bound: never flaky)
    assert got[0][1] >= t0
