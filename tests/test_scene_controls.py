"""Scene inputs as parameters: /liveai/scenes/<scene>/<input> registered by the engine from the
preset and applied by the projector to its compiled scenes (real GL through EGL)."""

from __future__ import annotations

from pathlib import Path

import moderngl
import numpy as np
import pytest

from liveai.config import AutopilotConfig, SceneConfig, TransitionConfig, VisualsConfig
from liveai.params import ParamType, SharedParams, engine_store
from liveai.visuals.check import synthetic_frame
from liveai.visuals.controls import input_spec, register_scene_parameters, scene_parameters
from liveai.visuals.isf import parse_isf
from liveai.visuals.playlist import playlist_keys, scene_key
from liveai.visuals.projector import ParamFollower
from liveai.visuals.scene import RenderClock
from liveai.visuals.show import VisualShow

HEADER = """/*{"ISFVSN": "2", "INPUTS": [
  {"NAME": "size", "TYPE": "float", "MIN": 0, "MAX": 2, "DEFAULT": 0.5},
  {"NAME": "inv", "TYPE": "float", "MIN": 1, "MAX": 0, "DEFAULT": 1},
  {"NAME": "free", "TYPE": "float", "DEFAULT": 3},
  {"NAME": "on", "TYPE": "bool"},
  {"NAME": "hit", "TYPE": "event"},
  {"NAME": "mode", "TYPE": "long", "VALUES": [10, 20, 30], "LABELS": ["a", "b", "c"]},
  {"NAME": "count", "TYPE": "long", "MIN": 1, "MAX": 8, "DEFAULT": 2},
  {"NAME": "tint", "TYPE": "color", "DEFAULT": [1, 0, 0, 1]},
  {"NAME": "pos", "TYPE": "point2D", "MIN": [0, 0], "MAX": [100, 50]},
  {"NAME": "img", "TYPE": "image"}
]}*/
"""
# The colour shows the inputs: red/green from tint, blue from the chosen mode (10/20/30).
SCENE = HEADER + "void main() { gl_FragColor = vec4(tint.r, tint.g, float(mode) / 40.0, 1.0); }\n"


def test_each_isf_input_type_becomes_a_typed_parameter_with_the_files_range():
    doc = parse_isf(SCENE, "m.fs")
    specs = {i.name: input_spec("m", "m", i) for i in doc.inputs}
    assert specs["img"] is None  # images and audio are not for desks
    size = specs["size"]
    assert (size.address, size.kind, size.default, size.minimum, size.maximum) == (
        "/liveai/scenes/m/size", ParamType.FLOAT, 0.5, 0.0, 2.0)
    assert (specs["inv"].minimum, specs["inv"].maximum) == (0.0, 1.0)  # MIN above MAX
    assert (specs["free"].minimum, specs["free"].maximum) == (0.0, 6.0)  # no range in the file
    assert specs["on"].kind == ParamType.BOOL and specs["on"].default is False
    assert specs["hit"].kind == ParamType.TRIGGER
    assert specs["mode"].kind == ParamType.CHOICE and specs["mode"].choices == ("a", "b", "c")
    assert (specs["count"].kind, specs["count"].minimum, specs["count"].maximum) == (
        ParamType.INT, 1, 8)
    assert specs["tint"].size == 4 and specs["tint"].default == (1.0, 0.0, 0.0, 1.0)
    assert (specs["pos"].size, specs["pos"].minimum, specs["pos"].maximum) == (2, 0.0, 100.0)
    # The preset's value is where the parameter starts.
    mode = next(i for i in doc.inputs if i.name == "mode")
    assert input_spec("m", "m", mode, "c").default == "c"
    assert input_spec("m", "m", mode, 20).default == "b"


def test_keys_are_address_segments_and_repeats_are_numbered(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.fs").write_text(SCENE)
    entries = [SceneConfig(file=str(tmp_path / "a.fs")), SceneConfig(file=str(tmp_path / "b.fs")),
               SceneConfig(file=str(tmp_path / "a.fs")), SceneConfig(file="gone")]
    assert playlist_keys(entries, [tmp_path]) == ["a", "b", "a_2", "gone"]
    assert scene_key("Spectrum Sun (v2)") == "spectrum_sun_v2"
    specs = scene_parameters(VisualsConfig(scenes=entries), tmp_path)
    assert {s.address.split("/")[3] for s in specs} == {"a", "b", "a_2"}  # 'gone' left out


def test_shipped_scenes_all_register(tmp_path):
    """Every scene liveai ships has its inputs on the address tree, none refused."""
    store = engine_store()
    n = register_scene_parameters(store, VisualsConfig(), None)
    assert n >= 18 * 3
    assert any(a.startswith("/liveai/scenes/") for a in store.addresses())


@pytest.fixture
def egl():
    ctx = moderngl.create_standalone_context(backend="egl", require=330)
    fbo = ctx.simple_framebuffer((32, 18), components=4)
    yield ctx, fbo
    fbo.release()
    ctx.release()


def _pixel(show: VisualShow, fbo, i: int) -> tuple[float, float, float]:
    clock = RenderClock(i / 30.0, 1.0 / 30.0, i, (2026.0, 1.0, 1.0, 0.0))
    show.render(synthetic_frame(i, True), clock, fbo, (32, 18))
    rgb = np.frombuffer(fbo.read(components=3), np.uint8).reshape(18, 32, 3)[9, 16] / 255.0
    return tuple(float(c) for c in rgb)


def test_a_desk_sets_scene_inputs_and_the_projector_draws_them(egl, tmp_path):
    ctx, fbo = egl
    path = tmp_path / "m.fs"
    path.write_text(SCENE)
    cfg = VisualsConfig(scenes=[SceneConfig(file=str(path), params={"mode": "a"}),
                                SceneConfig(file=str(path))],
                        transition=TransitionConfig(kind="cut", quantize="none"),
                        autopilot=AutopilotConfig(enabled=False), automap=False)
    shared = SharedParams.create()
    store = engine_store(shared.capacity, shared.buffer)
    shared.follow(store)
    register_scene_parameters(store, cfg, tmp_path)  # the engine's side
    show = VisualShow(ctx, cfg, tmp_path)  # the projector's side, same preset
    follower = ParamFollower(SharedParams.attach(shared.path), show)
    try:
        follower.poll(0.0)
        assert _pixel(show, fbo, 0) == pytest.approx((1.0, 0.0, 0.25), abs=0.01)
        assert store.set("/liveai/scenes/m/tint", (0.0, 1.0, 0.0, 1.0), source="osc").ok
        assert store.set("/liveai/scenes/m/mode", "c", source="osc").ok
        follower.poll(0.1)
        assert _pixel(show, fbo, 1) == pytest.approx((0.0, 1.0, 0.75), abs=0.01)
        # The repeated entry is its own scene: untouched.
        assert show.layers[1].scene.values["tint"] == pytest.approx((1.0, 0.0, 0.0, 1.0))
        store.set("/liveai/scenes/m_2/count", 5, source="osc")
        store.set("/liveai/scenes/m_2/hit", source="osc")
        follower.poll(0.2)
        assert show.layers[1].scene.values["count"] == 5
        assert "hit" in show.layers[1].scene._pending_events  # an event, for one frame
        # Out of range is refused by the store: the scene keeps the last good value.
        assert not store.set("/liveai/scenes/m/size", 9.0, source="osc").ok
        follower.poll(0.3)
        assert show.layers[0].scene.values["size"] == pytest.approx(0.5)
        # A scene reloaded from disk gets the desk's values back, not the preset's.
        path.write_text(SCENE + "\n")
        assert show.layers[0].reload()
        follower.poll(0.4)
        assert _pixel(show, fbo, 2) == pytest.approx((0.0, 1.0, 0.75), abs=0.01)
    finally:
        show.release()
        shared.close()


def test_the_same_scene_name_sent_twice_goes_back_to_it(egl, tmp_path):
    ctx, fbo = egl
    paths = []
    for name in ("a", "b"):
        (tmp_path / f"{name}.fs").write_text(SCENE)
        paths.append(str(tmp_path / f"{name}.fs"))
    cfg = VisualsConfig(scenes=[SceneConfig(file=p) for p in paths],
                        transition=TransitionConfig(kind="cut", quantize="none"),
                        autopilot=AutopilotConfig(enabled=False))
    shared = SharedParams.create()
    store = engine_store(shared.capacity, shared.buffer)
    shared.follow(store)
    store.set("/liveai/transition/quantize", "none", source="preset")
    show = VisualShow(ctx, cfg, tmp_path)
    follower = ParamFollower(SharedParams.attach(shared.path), show)
    try:
        follower.poll(0.0)
        for i, (name, expect) in enumerate((("b", 1), ("a", 0), ("b", 1))):
            store.set("/liveai/scene/name", name, source="osc")
            follower.poll(1.0 + i)
            _pixel(show, fbo, i)
            assert show.current == expect
            show.next_scene_in_order(+1)  # the VJ moves on by hand ...
            _pixel(show, fbo, i)
            store.set("/liveai/scene/name", name, source="osc")  # ... the desk sends it again
            follower.poll(1.5 + i)
            _pixel(show, fbo, i)
            assert show.current == expect
    finally:
        show.release()
        shared.close()


def test_engine_registers_the_presets_scene_inputs():
    from liveai.app import Engine, build_source
    from liveai.config import load_show

    config, path = load_show("club")
    engine = Engine(config, build_source(config, demo=True, realtime=False), projector=False,
                    preset=path)
    try:
        scenes = {a.split("/")[3] for a in engine.params.addresses()
                  if a.startswith("/liveai/scenes/")}
        assert len(scenes) == len({Path(s.file).stem for s in config.visuals.scenes})
    finally:
        engine.close()


def test_unknown_scene_files_register_nothing(tmp_path):
    bad = tmp_path / "broken.fs"
    bad.write_text('/*{"INPUTS": [ nope */ void main() {}')
    assert scene_parameters(VisualsConfig(scenes=[SceneConfig(file=str(bad))]), tmp_path) == []


def test_a_desk_plays_the_mappings_and_a_fader_moves_where_they_swing_from(egl, tmp_path):
    from liveai.config import MappingConfig

    ctx, fbo = egl
    path = tmp_path / "m.fs"
    path.write_text(SCENE)
    cfg = VisualsConfig(scenes=[SceneConfig(file=str(path), map=[
        MappingConfig(source="bass", target="size", scale=0.5, offset=0.25, attack_ms=20.0)])],
        autopilot=AutopilotConfig(enabled=False))
    shared = SharedParams.create()
    store = engine_store(shared.capacity, shared.buffer)
    shared.follow(store)
    register_scene_parameters(store, cfg, tmp_path)
    assert store.get("/liveai/mappings/m/1/source") == "bass"
    assert store.get("/liveai/mappings/m/1/attack_ms") == 20.0
    assert "/liveai/mappings/m/2/source" not in store  # one mapping, one set of addresses
    show = VisualShow(ctx, cfg, tmp_path)
    follower = ParamFollower(SharedParams.attach(shared.path), show)
    layer = show.layers[0]
    try:
        follower.poll(0.0)
        assert layer.mapping.mappings[0].scale == 0.5
        store.set("/liveai/mappings/m/1/depth", 2.0, source="osc")
        store.set("/liveai/mappings/m/1/source", "kick", source="osc")
        store.set("/liveai/mappings/m/1/curve", "exp", source="osc")
        follower.poll(0.1)
        m = layer.mapping.mappings[0]
        assert (m.source, m.curve, m.scale, m.offset) == ("kick", "exp", 1.0, 0.25)
        store.set("/liveai/mappings/m/1/enabled", False, source="osc")
        follower.poll(0.2)
        assert layer.mapping.mappings[0].scale == 0.0  # still: the input rests at its base
        # The input's own fader moves the swing: size 0.5 → 1.5 of 0..2 is +0.5 of the range.
        store.set("/liveai/scenes/m/size", 1.5, source="osc")
        follower.poll(0.3)
        assert layer.mapping.mappings[0].offset == pytest.approx(0.75)
        for i in range(20):  # past the 20 ms attack
            _pixel(show, fbo, i)
        assert layer.scene.values["size"] == pytest.approx(1.5)  # offset 0.75 of 0..2, still
        assert not store.set("/liveai/mappings/m/1/source", "nonsense", source="osc").ok
    finally:
        show.release()
        shared.close()
