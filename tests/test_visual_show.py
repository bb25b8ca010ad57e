"""Mappings, the visual show (transitions, autopilot, hot reload, master controls), offline
render and the projector window, on real GL (EGL, and glfw under Xvfb)."""

from __future__ import annotations

import itertools
import json
import logging
import os
from pathlib import Path

import moderngl
import numpy as np
import pytest
from conftest import run_cli

from liveai.config import (
    AutopilotConfig,
    SceneConfig,
    TransitionConfig,
    VisualsConfig,
    load_show,
)
from liveai.frame import new_frame
from liveai.visuals.check import synthetic_frame
from liveai.visuals.isf import parse_isf
from liveai.visuals.mapping import Mapping, MappingEngine, MappingError, auto_mappings
from liveai.visuals.scene import RenderClock
from liveai.visuals.show import VisualShow

ROOT = Path(__file__).resolve().parents[1]

DOC = parse_isf("""/*{"INPUTS": [
  {"NAME": "size", "TYPE": "float", "MIN": 0, "MAX": 2, "DEFAULT": 0.5},
  {"NAME": "inv", "TYPE": "float", "MIN": 1, "MAX": 0, "DEFAULT": 1},
  {"NAME": "on", "TYPE": "bool"},
  {"NAME": "hit", "TYPE": "event"},
  {"NAME": "mode", "TYPE": "long", "VALUES": [10, 20, 30], "LABELS": ["a", "b", "c"]},
  {"NAME": "tint", "TYPE": "color", "DEFAULT": [1, 0, 0, 1]},
  {"NAME": "pos", "TYPE": "point2D", "MIN": [0, 0], "MAX": [100, 50]}
]}*/
void main() { gl_FragColor = tint; }
""", "m.fs")


def _values(**features):
    v = {f"la_{k}": val for k, val in features.items()}
    v.setdefault("la_bands", (0.0,) * 8)
    return v


def test_mapping_arithmetic_in_the_inputs_range():
    eng = MappingEngine(DOC, [
        Mapping("bass", "size"),
        Mapping("bass", "inv"),  # MIN > MAX as written: the mapping follows it
        Mapping("level", "on"),
        Mapping("beat", "hit"),
        Mapping("level", "mode"),
        Mapping("level", "tint"),
        Mapping("bands2", "pos.y", scale=0.5, offset=0.25),
    ])
    v = eng.apply(_values(bass=0.25, level=0.6, beat=1.0, bands=(0, 0, 1.0, 0, 0, 0, 0, 0)),
                  {"tint": (1.0, 0.0, 0.0, 1.0), "pos": (10.0, 0.0)}, 0.0)
    assert v["size"] == pytest.approx(0.5)
    assert v["inv"] == pytest.approx(0.75)
    assert v["on"] is True
    assert v["hit"] is True
    assert v["mode"] == 20
    assert v["tint"] == pytest.approx((0.6, 0.0, 0.0, 1.0))
    assert v["pos"] == pytest.approx((10.0, 37.5))
    # the event fires on the rising edge only
    v2 = eng.apply(_values(bass=0.25, level=0.6, beat=1.0), {}, 0.0)
    assert "hit" not in v2


def test_mapping_attack_and_release():
    eng = MappingEngine(DOC, [Mapping("level", "size", attack_ms=0.0, release_ms=1000.0)])
    assert eng.apply(_values(level=1.0), {}, 0.01)["size"] == pytest.approx(2.0)
    after = eng.apply(_values(level=0.0), {}, 1.0)["size"]  # one time constant of release
    assert after == pytest.approx(2.0 * np.exp(-1.0), rel=1e-6)


def test_mapping_errors_name_the_choices():
    with pytest.raises(MappingError, match="unknown feature 'bas'"):
        Mapping("bas", "size").validate(DOC)
    with pytest.raises(MappingError, match=r"no input 'sise'.*size"):
        Mapping("bass", "sise").validate(DOC)
    with pytest.raises(MappingError, match="no component 'z'"):
        Mapping("bass", "pos.z").validate(DOC)
    with pytest.raises(MappingError, match="unknown curve"):
        Mapping("bass", "size", curve="cubic").validate(DOC)


def test_auto_mappings_from_input_names():
    maps = auto_mappings(DOC)
    targets = {m.target: m.source for m in maps}
    assert targets["size"] == "bass"
    assert targets["pos.x"] == "sin_x05"
    notes = parse_isf('/*{"INPUTS": [' + ",".join(
        f'{{"NAME": "note{i}", "TYPE": "bool"}}' for i in range(12)) + "]}*/", "n.fs")
    assert [m.source for m in auto_mappings(notes)] == [f"chroma{i}" for i in range(12)]
    reads = parse_isf('/*{"INPUTS": [{"NAME": "size", "TYPE": "float"}]}*/\n'
                      "void main() { gl_FragColor = vec4(la_bass * size); }", "r.fs")
    assert auto_mappings(reads) == []


# -- the show on EGL ---------------------------------------------------------------------------

def _solid(path: Path, rgb: tuple[float, float, float]) -> Path:
    path.write_text('/*{"ISFVSN": "2", "DESCRIPTION": "solid", "INPUTS": []}*/\n'
                    f"void main() {{ gl_FragColor = vec4({rgb[0]}, {rgb[1]}, {rgb[2]}, 1.0); }}\n")
    return path


@pytest.fixture
def egl():
    ctx = moderngl.create_standalone_context(backend="egl", require=330)
    fbo = ctx.simple_framebuffer((32, 18))
    yield ctx, fbo
    fbo.release()
    ctx.release()


def _pixel(fbo: moderngl.Framebuffer) -> np.ndarray:
    """Mean colour of the bottom half (rows come bottom-up; overlays sit at the top)."""
    data = np.frombuffer(fbo.read(components=3), dtype=np.uint8).reshape(18, 32, 3)
    return data[:9].reshape(-1, 3).mean(axis=0) / 255.0


def _frames(show: VisualShow, fbo, start: int, n: int, music: bool = True, fps: float = 30.0):
    out = []
    for i in range(start, start + n):
        clock = RenderClock(i / fps, 1.0 / fps if i else 0.0, i, (2026.0, 1.0, 1.0, 0.0))
        show.render(synthetic_frame(i, music), clock, fbo, (32, 18))
        out.append((_pixel(fbo), show.current, show.transition is not None))
    return out


def test_crossfade_in_seconds_then_the_next_scene(egl, tmp_path):
    ctx, fbo = egl
    cfg = VisualsConfig(
        scenes=[SceneConfig(file=str(_solid(tmp_path / "red.fs", (1, 0, 0)))),
                SceneConfig(file=str(_solid(tmp_path / "blue.fs", (0, 0, 1))))],
        transition=TransitionConfig(duration=1.0, unit="seconds", quantize="none"),
        autopilot=AutopilotConfig(enabled=False))
    show = VisualShow(ctx, cfg, tmp_path)
    try:
        assert show.scene_names == ["red", "blue"]
        first = _frames(show, fbo, 0, 3)
        assert first[-1][0] == pytest.approx((1, 0, 0), abs=0.01)
        show.request("blue")
        seq = _frames(show, fbo, 3, 40)
        mids = [px for px, _, busy in seq if busy]
        assert 25 <= len(mids) <= 32  # one second at 30 fps
        middle = mids[len(mids) // 2]
        assert 0.3 < middle[0] < 0.7 and 0.3 < middle[2] < 0.7  # a mix of both
        reds = [px[0] for px in mids]
        assert all(b <= a + 1e-6 for a, b in itertools.pairwise(reds))  # monotonic
        assert seq[-1][1] == 1 and seq[-1][0] == pytest.approx((0, 0, 1), abs=0.01)
    finally:
        show.release()


def test_quantized_change_waits_for_the_beat(egl, tmp_path):
    ctx, fbo = egl
    cfg = VisualsConfig(
        scenes=[SceneConfig(file=str(_solid(tmp_path / "a.fs", (1, 1, 1)))),
                SceneConfig(file=str(_solid(tmp_path / "b.fs", (0, 0, 0))))],
        transition=TransitionConfig(kind="cut", quantize="beat"),
        autopilot=AutopilotConfig(enabled=False))
    show = VisualShow(ctx, cfg, tmp_path)
    try:
        _frames(show, fbo, 0, 2)  # the synthetic groove: a beat every 15 frames from frame 0
        show.request(1)
        seq = _frames(show, fbo, 2, 20)
        switched = next(i for i, (_, cur, _) in enumerate(seq) if cur == 1) + 2
        assert switched == 15  # the next beat, not at once
    finally:
        show.release()


def test_autopilot_changes_on_beats_and_never_repeats_until_all_played(egl, tmp_path):
    ctx, fbo = egl
    files = [_solid(tmp_path / f"s{i}.fs", (i / 4, 0, 0)) for i in range(4)]
    cfg = VisualsConfig(
        scenes=[SceneConfig(file=str(f)) for f in files],
        transition=TransitionConfig(kind="cut"),
        autopilot=AutopilotConfig(mode="no-repeat", change_on="beat", every=2, jitter=0.0,
                                  seed=7))
    show = VisualShow(ctx, cfg, tmp_path)
    try:
        seq = _frames(show, fbo, 0, 15 * 2 * 3 + 5)  # 6 beats -> 3 changes
        order = [cur for i, (_, cur, _) in enumerate(seq) if i == 0 or cur != seq[i - 1][1]]
        assert len(order) == 4
        assert sorted(order) == [0, 1, 2, 3]  # every scene once before any repeats
    finally:
        show.release()


def test_hot_reload_keeps_the_last_good_version(egl, tmp_path, caplog):
    ctx, fbo = egl
    scene = _solid(tmp_path / "live.fs", (1, 0, 0))
    cfg = VisualsConfig(scenes=[SceneConfig(file=str(scene))],
                        autopilot=AutopilotConfig(enabled=False))
    show = VisualShow(ctx, cfg, tmp_path)
    try:
        assert _frames(show, fbo, 0, 2)[-1][0] == pytest.approx((1, 0, 0), abs=0.01)
        scene.write_text('/*{"INPUTS": []}*/\nvoid main() {\n  gl_FragColor = vec4(oops);\n}\n')
        st = scene.stat()
        os.utime(scene, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        with caplog.at_level(logging.ERROR):
            seq = _frames(show, fbo, 2, 12)
        assert seq[-1][0] == pytest.approx((1, 0, 0), abs=0.01)  # still the good version
        assert show.layers[0].error.startswith(f"{scene}:3: ")
        assert "oops" in show.layers[0].error
        assert "last good version keeps running" in caplog.text
        _solid(scene, (0, 1, 0))
        st = scene.stat()
        os.utime(scene, ns=(st.st_atime_ns, st.st_mtime_ns + 2 * 10**9))
        seq = _frames(show, fbo, 14, 12)
        assert seq[-1][0] == pytest.approx((0, 1, 0), abs=0.01)
        assert show.layers[0].error == ""
    finally:
        show.release()


def test_master_intensity_blackout_and_preset_values(egl, tmp_path, caplog):
    ctx, fbo = egl
    f = tmp_path / "tinted.fs"
    f.write_text('/*{"INPUTS": [{"NAME": "tint", "TYPE": "color", "DEFAULT": [1, 0, 0, 1]}]}*/\n'
                 "void main() { gl_FragColor = tint; }\n")
    cfg = VisualsConfig(scenes=[SceneConfig(file=str(f), params={"tint": [0, 1, 0],
                                                                  "nope": 1.0})],
                        automap=False, autopilot=AutopilotConfig(enabled=False))
    with caplog.at_level(logging.WARNING):
        show = VisualShow(ctx, cfg, tmp_path)
    try:
        assert "has no such input" in caplog.text and "nope" in caplog.text
        assert _frames(show, fbo, 0, 1)[-1][0] == pytest.approx((0, 1, 0), abs=0.01)
        show.intensity = 0.5
        assert _frames(show, fbo, 1, 1)[-1][0][1] == pytest.approx(0.5, abs=0.01)
        show.blackout = True
        assert _frames(show, fbo, 2, 1)[-1][0] == pytest.approx((0, 0, 0), abs=0.01)
    finally:
        show.release()


def test_missing_scenes_are_reported_and_the_fallback_draws(egl, tmp_path, caplog):
    ctx, fbo = egl
    cfg = VisualsConfig(scenes=[SceneConfig(file="no-such-scene")],
                        autopilot=AutopilotConfig(enabled=False))
    with caplog.at_level(logging.ERROR):
        show = VisualShow(ctx, cfg, tmp_path)
    try:
        assert "no-such-scene" in caplog.text
        assert show.scene_names == ["liveai-fallback"]
        px = _frames(show, fbo, 0, 5)[-1][0]
        assert px.sum() > 0.05
    finally:
        show.release()


def test_isf_transition_shader(egl, tmp_path):
    ctx, fbo = egl
    wipe = tmp_path / "wipe.fs"
    wipe.write_text('/*{"INPUTS": [{"NAME": "startImage", "TYPE": "image"},'
                    '{"NAME": "endImage", "TYPE": "image"},'
                    '{"NAME": "progress", "TYPE": "float"}]}*/\n'
                    "void main() { gl_FragColor = isf_FragNormCoord.x < progress ? "
                    "IMG_THIS_PIXEL(endImage) : IMG_THIS_PIXEL(startImage); }\n")
    cfg = VisualsConfig(
        scenes=[SceneConfig(file=str(_solid(tmp_path / "r.fs", (1, 0, 0)))),
                SceneConfig(file=str(_solid(tmp_path / "g.fs", (0, 1, 0))))],
        transition=TransitionConfig(kind=str(wipe), duration=1.0, unit="seconds",
                                    quantize="none"),
        autopilot=AutopilotConfig(enabled=False))
    show = VisualShow(ctx, cfg, tmp_path)
    try:
        _frames(show, fbo, 0, 1)
        show.request(1)
        _frames(show, fbo, 1, 15)  # half way
        data = np.frombuffer(fbo.read(components=3), dtype=np.uint8).reshape(18, 32, 3)
        left, right = data[:, :8].mean(axis=(0, 1)), data[:, -8:].mean(axis=(0, 1))
        assert left[1] > 200 and left[0] < 50  # the new scene wipes in from the left
        assert right[0] > 200 and right[1] < 50
    finally:
        show.release()


# -- offline render ----------------------------------------------------------------------------

def _click_track(path: Path, seconds: float, bpm: float, sr: int = 44100) -> np.ndarray:
    import soundfile as sf

    x = np.zeros(int(seconds * sr), dtype=np.float32)
    times = np.arange(0.5, seconds, 60.0 / bpm)
    n = np.arange(int(0.03 * sr))
    click = (np.sin(2 * np.pi * 1000 * n / sr) * np.exp(-n / (0.005 * sr))).astype(np.float32)
    noise = np.random.default_rng(0).standard_normal(len(n)).astype(np.float32)
    click = 0.8 * click + 0.4 * noise * np.exp(-n / (0.002 * sr)).astype(np.float32)
    for t in times:
        i = int(t * sr)
        x[i:i + len(n)] += click[: len(x) - i]
    sf.write(path, x, sr)
    return times


def test_render_click_track_beat_uniform_rises_on_the_clicks(tmp_path):
    wav = tmp_path / "clicks.wav"
    clicks = _click_track(wav, 10.0, 120.0)
    probe = tmp_path / "probe.fs"
    probe.write_text('/*{"INPUTS": []}*/\n'
                     "void main() { gl_FragColor = vec4(la_beat, la_onset, 0.0, 1.0); }\n")
    preset = tmp_path / "probe.toml"
    preset.write_text(f'[visuals]\nautomap = false\n[[visuals.scenes]]\nfile = "{probe}"\n'
                      "[visuals.autopilot]\nenabled = false\n")
    out = tmp_path / "frames"
    r = run_cli("render", str(wav), "--preset", str(preset), "--out", str(out), "--size",
                "32x18", "--fps", "50", timeout=300)
    assert r.returncode == 0, r.stderr
    pngs = sorted(out.glob("frame_*.png"))
    assert len(pngs) == 500
    from PIL import Image

    red = np.array([np.asarray(Image.open(p))[..., 0].mean() / 255.0 for p in pngs])
    green = np.array([np.asarray(Image.open(p))[..., 1].mean() / 255.0 for p in pngs])
    rises = np.flatnonzero((red[1:] > 0.9) & (red[:-1] < 0.7)) + 1
    late = rises[rises / 50.0 > 5.0]  # after the tracker has locked
    assert len(late) >= 8
    for i in late:  # each beat pulse within one hop + one frame of a click
        assert np.min(np.abs(clicks - i / 50.0)) <= 0.045
    onsets = np.flatnonzero((green[1:] > 0.3) & (green[:-1] < green[1:] - 0.2)) + 1
    assert len(onsets) >= 15
    # and the render is frame-exact: a second run gives the same pictures
    r2 = run_cli("render", str(wav), "--preset", str(preset), "--out", str(tmp_path / "again"),
                 "--size", "32x18", "--fps", "50", "--seconds", "3", timeout=300)
    assert r2.returncode == 0, r2.stderr
    for p in sorted((tmp_path / "again").glob("*.png")):
        assert np.array_equal(np.asarray(Image.open(p)), np.asarray(Image.open(out / p.name)))


def test_render_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    r = run_cli("render", str(bad), "--out", str(tmp_path / "o"), "--size", "32x18")
    assert r.returncode != 0 and "cannot read this audio file" in r.stderr
    r = run_cli("render", str(bad), "--out", str(tmp_path / "o"), "--size", "big")
    assert r.returncode == 2 and "WIDTHxHEIGHT" in r.stderr


def test_visuals_preset_errors_name_the_key(tmp_path):
    p = tmp_path / "v.toml"
    p.write_text('[[visuals.scenes]]\nfile = "x"\n[[visuals.scenes.map]]\nsource = "bass"\n'
                 'target = "size"\ncurve = "cubic"\n')
    from liveai.errors import ConfigError

    with pytest.raises(ConfigError, match=r"visuals\.scenes\[0\]\.map\[0\]\.curve"):
        load_show(str(p))


# -- the real window ---------------------------------------------------------------------------

@pytest.mark.display
def test_window_under_xvfb_switches_scenes_with_a_crossfade(xvfb, tmp_path):
    """A glfw window on the X server: draw, crossfade, and read the window back (screenshots).

    It runs in its own process: Mesa does not mix the EGL contexts of the other tests with a
    GLX window in one process.
    """
    import subprocess
    import sys

    r = subprocess.run([sys.executable, str(ROOT / "tests" / "window_probe.py"), str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    from PIL import Image

    shots = [np.asarray(Image.open(tmp_path / f"shot_{i:02d}.png")) for i in range(40)]
    h = shots[0].shape[0]

    def body(p):  # below the overlay
        return p[h // 2:, :].reshape(-1, 3).mean(axis=0)

    assert body(shots[3])[0] > 240 and body(shots[3])[2] < 15
    mid = body(shots[12])
    assert 40 < mid[0] < 215 and 40 < mid[2] < 215
    assert body(shots[-1])[2] > 240 and body(shots[-1])[0] < 15
    # the status overlay is drawn in the top-left corner
    assert np.abs(shots[-1][:20, :100].astype(int) - [0, 0, 255]).max() > 60


def test_scenes_cli_check_list_and_thumbs(tmp_path):
    good = _solid(tmp_path / "good.fs", (0.2, 0.4, 0.6))
    bad = tmp_path / "bad.fs"
    bad.write_text('/*{"INPUTS": []}*/\nvoid main() {\n  gl_FragColor = nope;\n}\n')
    r = run_cli("scenes", "check", str(good), str(bad))
    assert r.returncode == 1
    lines = r.stdout.strip().splitlines()
    assert lines[0] == f"OK {good}"
    assert lines[1].startswith(f"FAIL {bad}: line 3: ") and "nope" in lines[1]
    r = run_cli("scenes", "thumbs", str(good), "--out", str(tmp_path / "th"), "--size", "64x36")
    assert r.returncode == 0, r.stderr
    from PIL import Image

    img = np.asarray(Image.open(tmp_path / "th" / "good.png"))
    assert img.shape == (36, 64, 3)
    assert img[..., 2].mean() == pytest.approx(0.6 * 255, abs=3)
    preset = tmp_path / "p.toml"
    preset.write_text(f'[[visuals.scenes]]\nfile = "{good}"\n')
    r = run_cli("scenes", "list", "--preset", str(preset))
    assert r.returncode == 0 and "solid" in r.stdout and "[generator]" in r.stdout
    json.dumps(r.stdout)  # printable


def test_shadertoy_file_in_a_show(egl, tmp_path):
    ctx, fbo = egl
    st = tmp_path / "toy.glsl"
    st.write_text("void mainImage(out vec4 c, in vec2 p) { c = vec4(p.x / iResolution.x, "
                  "la_level, 0.0, 1.0); }\n")
    cfg = VisualsConfig(scenes=[SceneConfig(file=str(st))],
                        autopilot=AutopilotConfig(enabled=False))
    show = VisualShow(ctx, cfg, tmp_path)
    try:
        quiet = _frames(show, fbo, 0, 2, music=False)[-1][0]
        loud = _frames(show, fbo, 2, 2, music=True)[-1][0]
        assert quiet[0] == pytest.approx(0.5, abs=0.02)
        assert loud[1] > quiet[1] + 0.3
    finally:
        show.release()


def test_new_frame_defaults_render(egl, tmp_path):
    """A zeroed FeatureFrame (engine not started yet) draws without errors."""
    ctx, fbo = egl
    show = VisualShow(ctx, VisualsConfig(scenes=[SceneConfig(
        file=str(_solid(tmp_path / "x.fs", (0, 0, 0))))]), tmp_path)
    try:
        show.render(new_frame(), RenderClock(), fbo, (32, 18))
        assert ctx.error == "GL_NO_ERROR"
    finally:
        show.release()


def test_bench_visuals_prints_liveai_beside_the_reference():
    r = run_cli("bench", "visuals", "--size", "64x36", "--frames", "12", "--scene",
                str(ROOT.parent / "shared" / "data" / "isf" / "Noise.fs"), "--scene",
                str(ROOT.parent / "shared" / "data" / "isf" / "Spiral.fs"), timeout=300)
    assert r.returncode == 0, r.stderr
    rows = {line.split("  ")[0].strip(): line for line in r.stdout.splitlines()}
    for key in ("liveai render() thread CPU", "reference thread CPU", "frames starting a switch"):
        numbers = rows[key][len(key):].split()[:2]
        assert all(np.isfinite(float(x)) for x in numbers), rows[key]


def test_outputs_remember_their_monitor(tmp_path, monkeypatch):
    from liveai.visuals.projector import remember_output, remembered_output

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert remembered_output(0) == {}
    remember_output(0, "HDMI-1", True)
    remember_output(1, "DP-2", False)
    assert remembered_output(0) == {"monitor": "HDMI-1", "fullscreen": True}
    assert remembered_output(1) == {"monitor": "DP-2", "fullscreen": False}
    (tmp_path / "liveai" / "outputs.json").write_text("{broken")
    assert remembered_output(0) == {}  # a damaged file is ignored, not fatal


@pytest.mark.parametrize("scene", ["led_matrix", "star_burst"])
def test_a_shipped_scene_flashes_on_the_clicks(tmp_path, scene):
    """A probe of a shipped scene rises on each click once the tracker has locked."""
    wav = tmp_path / "clicks.wav"
    clicks = _click_track(wav, 10.0, 120.0)
    preset = tmp_path / "p.toml"
    preset.write_text(f'[[visuals.scenes]]\nfile = "{scene}"\n[visuals.autopilot]\n'
                      "enabled = false\n")
    out = tmp_path / "frames"
    r = run_cli("render", str(wav), "--preset", str(preset), "--out", str(out), "--size",
                "96x54", "--fps", "50", timeout=300)
    assert r.returncode == 0, r.stderr
    from PIL import Image

    probe = np.array([np.asarray(Image.open(out / f"frame_{i:06d}.png"))[17:37, 38:58]
                      .astype(float).mean() for i in range(500)])
    late = [t for t in clicks if 5.0 < t < 9.5]
    on = np.array([probe[int(t * 50):int(t * 50) + 4].max() for t in late])
    between = np.array([probe[int((t + 0.25) * 50)] for t in late])
    assert np.all(on > between + 5.0), (on.round(1), between.round(1))


def test_shipped_presets_play_shipped_scenes(egl):
    """Every preset's playlist resolves, compiles and its mappings validate."""
    ctx, fbo = egl
    for preset in sorted((ROOT / "presets").glob("*.toml")):
        config, path = load_show(str(preset))
        show = VisualShow(ctx, config.visuals, path.parent)
        try:
            assert not show.failed, (preset.name, show.failed)
            assert show.scene_names != ["liveai-fallback"]
            for layer in show.layers:
                if any(m.map for m in config.visuals.scenes if m.file == layer.name):
                    assert layer.mapping is not None and layer.mapping.mappings, layer.name
            _frames(show, fbo, 0, 3)
        finally:
            show.release()


def test_pitch_class_maps_round_the_hue_wheel():
    from liveai.visuals.mapping import feature_value

    assert feature_value({"la_pitch_class": 6}, "pitch_class") == pytest.approx(0.5)
    assert feature_value({"la_pitch_class": -1}, "pitch_class") == 0.0
    assert feature_value({"la_bpm": 120.0}, "bpm") == pytest.approx(0.5)


# -- regressions from the review of the first version ----------------------------------------

@pytest.fixture
def followed_show(egl, tmp_path):
    """(store, show, follower): an engine store in shared memory and a show following it."""
    from liveai.params import SharedParams, engine_store
    from liveai.visuals.projector import ParamFollower

    ctx, _fbo = egl
    shared = SharedParams.create()
    store = engine_store(shared.capacity, shared.buffer)
    shared.follow(store)
    show = VisualShow(ctx, VisualsConfig(scenes=[SceneConfig(
        file=str(_solid(tmp_path / "a.fs", (1, 1, 1))))]), tmp_path)
    follower = ParamFollower(SharedParams.attach(shared.path), show)
    follower.poll(0.0)
    yield store, show, follower
    show.release()
    shared.close()


def test_a_blackout_key_is_not_undone_by_another_parameter(followed_show):
    from liveai.visuals.projector import _handle_keys

    store, show, follower = followed_show
    _handle_keys(show, ["b"])
    assert show.blackout
    store.set("/liveai/tempo/nudge_ms", 12.0)  # something else changes
    follower.poll(0.1)
    assert show.blackout  # still black
    store.set("/liveai/master/blackout", True)  # the desk's own changes still apply
    follower.poll(0.2)
    assert show.blackout
    store.set("/liveai/master/blackout", False)
    follower.poll(0.3)
    assert not show.blackout


def test_a_quantized_change_does_not_wait_forever_without_beats(egl, tmp_path):
    ctx, fbo = egl
    cfg = VisualsConfig(
        scenes=[SceneConfig(file=str(_solid(tmp_path / f"{c}.fs", (i, 0, 0))))
                for i, c in enumerate("ab")],
        transition=TransitionConfig(kind="cut", quantize="bar"),
        autopilot=AutopilotConfig(enabled=False))
    show = VisualShow(ctx, cfg, tmp_path)
    try:
        silent_tempo = new_frame()
        silent_tempo["tempo_bpm"] = 120.0  # the tracker keeps a tempo but fires no beats
        show.request(1)
        t = 0.0
        while show.current == 0 and t < 10.0:
            t += 1 / 30
            show.render(silent_tempo, RenderClock(t, 1 / 30, int(t * 30)), fbo, (32, 18))
        assert show.current == 1 and t <= 1.5 * 4 * 0.5 + 0.1  # at most a bar and a half
    finally:
        show.release()


def test_a_request_during_a_fade_waits_for_it_instead_of_snapping_back(egl, tmp_path):
    ctx, fbo = egl
    files = [_solid(tmp_path / f"s{i}.fs", rgb) for i, rgb in
             enumerate([(1, 0, 0), (0, 1, 0), (0, 0, 1)])]
    cfg = VisualsConfig(scenes=[SceneConfig(file=str(f)) for f in files],
                        transition=TransitionConfig(duration=1.0, unit="seconds",
                                                    quantize="none"),
                        autopilot=AutopilotConfig(enabled=False))
    show = VisualShow(ctx, cfg, tmp_path)
    try:
        show.request(1)
        seq = _frames(show, fbo, 0, 15, music=False)
        show.request(2)
        seq += _frames(show, fbo, 15, 60, music=False)
        steps = [np.abs(a[0] - b[0]).max() for a, b in itertools.pairwise(seq)]
        assert max(steps) < 0.15  # no jump back to the first scene
        assert seq[-1][1] == 2
    finally:
        show.release()


def test_predicted_beat_pulse_fires_once_per_beat():
    from liveai.visuals.uniforms import AudioState

    state = AudioState(visual_latency_ms=100.0)
    fires = 0
    prev = 0.0
    for i in range(240):  # 4 s at 60 fps, 120 BPM, a fresh hop every frame
        t = i / 60
        f = new_frame()
        f["frame_index"] = i
        f["tempo_bpm"] = 120.0
        f["beat_count"] = int(t / 0.5)
        f["next_beat_s"] = 0.5 - (t % 0.5) or 0.5
        state.update(f, t, 1 / 60 if i else 0.0)
        v = state.values["la_beat_ahead"]
        if v > 0.99 and prev < 0.99:
            fires += 1
        prev = v
    assert 7 <= fires <= 8  # one per beat, not one per frame inside the latency window


def test_hostile_size_expression_and_labels_do_not_crash(egl, tmp_path):
    ctx, fbo = egl
    f = tmp_path / "hostile.fs"
    f.write_text('/*{"INPUTS": [{"NAME": "zoom", "TYPE": "float", "DEFAULT": 0},'
                 '{"NAME": "m", "TYPE": "long", "VALUES": [0, 1], "LABELS": ["a", "b", "c"]}],'
                 '"PASSES": [{"TARGET": "buf", "WIDTH": "pow($zoom, -1.0)"}, {}]}*/\n'
                 "void main() { gl_FragColor = IMG_NORM_PIXEL(buf, isf_FragNormCoord); }\n")
    cfg = VisualsConfig(scenes=[SceneConfig(file=str(f), params={"m": "c"})],
                        autopilot=AutopilotConfig(enabled=False))
    show = VisualShow(ctx, cfg, tmp_path)
    try:
        assert not show.failed
        _frames(show, fbo, 0, 2)
        assert any("LABELS do not match" in r for r in show.layers[0].scene.rules)
    finally:
        show.release()


def test_shadertoy_file_with_its_own_main(egl, tmp_path):
    ctx, fbo = egl
    st = tmp_path / "own.glsl"
    st.write_text("void mainImage(out vec4 c, in vec2 p) { c = vec4(0.0, 1.0, 0.0, 1.0); }\n"
                  "void main() { mainImage(gl_FragColor, gl_FragCoord.xy); }\n")
    show = VisualShow(ctx, VisualsConfig(scenes=[SceneConfig(file=str(st))]), tmp_path)
    try:
        assert not show.failed
        assert _frames(show, fbo, 0, 1)[-1][0] == pytest.approx((0, 1, 0), abs=0.01)
    finally:
        show.release()


def test_crowd_uniform_follows_the_mixers_estimate(followed_show):
    store, show, follower = followed_show
    assert show.resources.audio.crowd == 0.0  # no mixer, no crowd
    for name in ("crowd_level_db", "music_level_db"):  # registered by the engine
        assert f"/liveai/mixer/{name}" in store
    store.set("/liveai/mixer/music_level_db", -20.0, source="mixer")
    store.set("/liveai/mixer/crowd_level_db", -40.0, source="mixer")
    follower.poll(0.5)
    assert show.resources.audio.crowd == pytest.approx(0.5)  # 20 dB under the music


def test_a_scene_whose_audio_is_a_menu_entry_starts_with_automatic_mappings():
    """Like the corpus' Test Pattern Generator: audio is one pattern of a menu, not the default."""
    text = ('/*{"INPUTS": [{"NAME": "pattern", "TYPE": "long", "DEFAULT": 0, "VALUES": [0, 1],'
            ' "LABELS": ["Color Bars", "Audio Flow"]},'
            ' {"NAME": "hue", "TYPE": "float", "MIN": -1, "MAX": 1, "DEFAULT": 0},'
            ' {"NAME": "fft", "TYPE": "audioFFT"}]}*/\nvoid main() {}\n')
    assert [m.target for m in auto_mappings(parse_isf(text, "t.fs"))] == ["hue"]
    on_audio = text.replace('"DEFAULT": 0, "VALUES"', '"DEFAULT": 1, "VALUES"')
    assert auto_mappings(parse_isf(on_audio, "t.fs")) == []
