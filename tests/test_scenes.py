"""Scenes on a real OpenGL 3.3 context (Mesa through EGL, no display): compile, draw, react."""

from __future__ import annotations

import math
from pathlib import Path

import moderngl
import numpy as np
import pytest

from liveai.frame import new_frame
from liveai.visuals.check import check_files, render_sequence, synthetic_frame
from liveai.visuals.isf import ShaderError, load_isf, parse_isf
from liveai.visuals.scene import RenderClock, Resources, Scene, load_document
from liveai.visuals.uniforms import AudioState

pytestmark = pytest.mark.gl

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "isf"
#: Corpus files whose picture must change with the music (they read audio / audioFFT inputs).
AUDIO_FILES = ("Audio Waveform Shape.fs", "FFT Color Lines.fs", "FFT Filled Waveform.fs",
               "FFT Spectrogram.fs", "Radial Spectrogram.fs", "Waveform Displace.fs")


@pytest.fixture(scope="module")
def gl():
    ctx = moderngl.create_standalone_context(backend="egl", require=330)
    res = Resources(ctx)
    yield ctx, res
    res.release()
    ctx.release()


def test_every_corpus_file_compiles_and_renders():
    paths = [str(p) for p in sorted(CORPUS.glob("*.fs"))]
    results = check_files(paths)
    failed = [r.line() for r in results if not r.ok]
    assert not failed, failed
    by_name = {Path(r.path).name: r for r in results}
    # As the show plays them (automatic mappings for scenes that start deaf, such as Test Pattern
    # Generator, whose audio pattern is not its default), every file reacts to the music.
    deaf = sorted(name for name, r in by_name.items() if not r.reacts)
    assert deaf == []
    assert all(r.moves for r in results), [r.path for r in results if not r.moves]
    solid_rules = by_name["Solid Color.fs"].rules
    assert any(rule.startswith("automap: level -> Color") for rule in solid_rules)
    raw = {Path(r.path).name: r for r in check_files(paths[:], automap=False)}
    for name in AUDIO_FILES:
        assert raw[name].reacts, f"{name} does not react to the music"
    assert raw["Noise.fs"].moves  # TIME-driven
    assert not raw["Solid Color.fs"].moves  # a still picture is allowed, and reported as such


def test_compile_error_reports_the_users_line(gl):
    _, res = gl
    text = ('/*{"INPUTS": []}*/\nvoid main() {\n  vec4 c = vec4(1.0);\n'
            "  gl_FragColor = c + nope;\n}\n")
    with pytest.raises(ShaderError) as err:
        Scene(res, parse_isf(text, "broken.fs"))
    assert err.value.line == 4
    assert "nope" in err.value.reason
    assert str(err.value).startswith("broken.fs:4: ")


def _spectrum_sum(pic: np.ndarray) -> float:
    return float(pic.sum())


def test_audio_fft_input_tracks_the_spectrum(gl):
    _, res = gl
    scene = Scene(res, load_isf(CORPUS / "FFT Filled Waveform.fs"))
    try:
        quiet = synthetic_frame(0, True)
        loud = synthetic_frame(1, True)
        quiet["spectrum"] = 0.05
        loud["spectrum"] = 0.9
        pics = render_sequence(scene, res, [quiet, loud], (128, 64))
        assert pics[1].mean() > pics[0].mean() + 0.05
    finally:
        scene.release()


def test_persistent_multipass_is_deterministic(gl):
    _, res = gl
    doc = load_isf(CORPUS / "Radial Spectrogram.fs")
    runs = []
    for _ in range(2):
        scene = Scene(res, doc)
        res.audio.reset()
        frames = [synthetic_frame(i, True) for i in range(20)]
        runs.append(np.stack(render_sequence(scene, res, frames, (96, 96))))
        scene.release()
    assert runs[0].std() > 0.0  # something was drawn
    np.testing.assert_array_equal(runs[0], runs[1])


def test_event_input_fires_for_one_frame(gl):
    _, res = gl
    text = ('/*{"INPUTS": [{"NAME": "flash", "TYPE": "event"}]}*/\n'
            "void main() { gl_FragColor = vec4(flash ? 1.0 : 0.0); }\n")
    scene = Scene(res, parse_isf(text, "ev.fs"))
    try:
        scene.set_value("flash", True)
        frames = [synthetic_frame(i, False) for i in range(3)]
        pics = render_sequence(scene, res, frames, (8, 8))
        assert [round(float(p.mean()), 3) for p in pics] == [1.0, 0.0, 0.0]
    finally:
        scene.release()


def test_shadertoy_audio_texture_rows(gl):
    """texelFetch on the exact 512x2 layout: row 0 spectrum, row 1 waveform."""
    _, res = gl
    src = ("void mainImage(out vec4 o, in vec2 p) {\n"
           "  float s = texelFetch(iChannel0, ivec2(100, 0), 0).x;\n"
           "  float w = texelFetch(iChannel0, ivec2(100, 1), 0).x;\n"
           "  o = vec4(s, w, iResolution.x / 1000.0, 1.0);\n}\n")
    from liveai.visuals.shadertoy import parse_shadertoy

    scene = Scene(res, parse_shadertoy(src, "st.glsl"))
    try:
        f = synthetic_frame(0, False)
        f["spectrum"][100] = 1.0
        f["waveform"][100] = -1.0  # centred on 0.5 in the texture: -1 -> 0
        res.audio.reset()
        frames = [f] * 30  # the spectrum row is smoothed (0.8) like WebAudio's analyser
        pic = render_sequence(scene, res, frames, (200, 10))[-1]
        assert pic[..., 0].mean() == pytest.approx(1.0, abs=0.02)
        assert pic[..., 1].mean() == pytest.approx(0.0, abs=0.01)
        assert pic[..., 2].mean() == pytest.approx(0.2, abs=0.01)
    finally:
        scene.release()


def test_beat_uniform_rises_on_clicks(gl):
    _, res = gl
    text = '/*{"INPUTS": []}*/\nvoid main() { gl_FragColor = vec4(la_beat, la_kick, 0.0, 1.0); }\n'
    scene = Scene(res, parse_isf(text, "beat.fs"))
    try:
        res.audio.reset()
        frames = []
        for i in range(60):  # 2 s at 30 fps, beats at 120 BPM -> a beat every 15 frames
            f = synthetic_frame(i, True)
            frames.append(f)
        pics = render_sequence(scene, res, frames, (4, 4))
        red = np.array([p[..., 0].mean() for p in pics])
        beat_frames = [i for i in range(1, 60)
                       if frames[i]["beat_count"] != frames[i - 1]["beat_count"]]
        assert len(beat_frames) >= 3
        for i in beat_frames:
            assert red[i] > 0.95
            assert red[i - 1] < 0.6  # decayed before the next beat
    finally:
        scene.release()


def test_predicted_beat_fires_ahead_by_the_visual_latency():
    state = AudioState(visual_latency_ms=100.0)
    f = new_frame()
    f["tempo_bpm"] = 120.0
    f["next_beat_s"] = 0.5
    f["frame_index"] = 1
    state.update(f, now_s=10.0, dt_s=0.0)  # the next beat is predicted at 10.5 s
    fired_at = None
    t = 10.0
    for _ in range(40):
        t += 1.0 / 60.0
        state.update(f, now_s=t, dt_s=1.0 / 60.0)
        if state.values["la_beat_ahead"] > 0.9 and fired_at is None:
            fired_at = t
    assert fired_at is not None
    assert 10.4 - 1.0 / 60.0 <= fired_at <= 10.4 + 1.0 / 60.0
    assert math.isclose(state.values["la_bpm"], 120.0)


def test_load_document_by_suffix(tmp_path):
    st = tmp_path / "a.glsl"
    st.write_text("void mainImage(out vec4 c, in vec2 p) { c = vec4(1.0); }\n")
    assert load_document(st).__class__.__name__ == "ShadertoyDocument"
    with pytest.raises(ShaderError, match="no such file"):
        load_document(tmp_path / "missing.fs")


def test_clock_date_now_is_plausible():
    year, month, day, secs = RenderClock.date_now()
    assert year >= 2024 and 1 <= month <= 12 and 1 <= day <= 31 and 0 <= secs < 86400


def test_log_spectrum_puts_a_low_tone_left_and_counters_reach_the_scene(gl):
    _, res = gl
    text = ('/*{"INPUTS": []}*/\nvoid main() {\n'
            "  float s = texture(la_spectrum_log, vec2(isf_FragNormCoord.x, 0.5)).r;\n"
            "  gl_FragColor = vec4(s, float(la_kick_count) / 10.0, 0.0, 1.0);\n}\n")
    scene = Scene(res, parse_isf(text, "log.fs"))
    try:
        f = synthetic_frame(0, False)
        f["sample_rate_hz"] = 48000
        f["spectrum"][4] = 1.0  # bin 4 = 94 Hz: about a fifth of the way along a log axis
        f["band_onset_count"][0] = 3
        pic = render_sequence(scene, res, [f], (200, 4))[-1]
        red = pic[2, :, 0]
        assert 0.1 < np.argmax(red) / 200 < 0.3
        assert red[100:].max() < 0.05
        assert pic[..., 1].mean() == pytest.approx(0.3, abs=0.01)
    finally:
        scene.release()
