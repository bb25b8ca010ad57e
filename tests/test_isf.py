"""ISF / Shadertoy parsing and GLSL translation (text only, no GL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from liveai.visuals import isf, shadertoy
from liveai.visuals.isf import IsfPass, ShaderError, eval_size_expr, parse_isf, target_size
from liveai.visuals.uniforms import AUDIO_UNIFORMS, audio_uniform_declarations

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "isf"


def test_header_read_leniently():
    text = """/*{
        "isfvsn": 2,
        "INPUTS": [
            {"NAME": "size", "TYPE": "float", "MIN": 1, "MAX": 0.05, "DEFAULT": 0.001},
            {"name": "pt", "type": "point2d"},
            {"NAME": "mode", "TYPE": "long", "VALUES": [3, 4], "LABELS": ["a", "b"]},
            {"NAME": "tint", "TYPE": "color"},
            {"NAME": "clear", "TYPE": "event"},
        ],
        "passes": [{"target": "buf", "persistent": true, "FLOAT": true, "width": "$WIDTH/2"}, {}]
    }*/
    void main() { gl_FragColor = vec4(size); }
    """
    doc = parse_isf(text, "x.fs")
    assert [i.name for i in doc.inputs] == ["size", "pt", "mode", "tint", "clear"]
    size, pt, mode, tint, clear = doc.inputs
    assert size.minimum == 1.0 and size.maximum == 0.05 and size.default == 0.001
    assert pt.type == "point2D" and pt.default == (0.0, 0.0)
    assert mode.default == 3 and mode.labels == ("a", "b")
    assert tint.default == (0.0, 0.0, 0.0, 1.0)
    assert clear.default is False
    assert doc.passes[0] == IsfPass("buf", True, True, "$WIDTH/2", "")
    assert doc.passes[1] == IsfPass()
    assert any("trailing commas" in r for r in doc.rules)
    assert any("MIN > MAX" in r for r in doc.rules)


def test_missing_or_broken_header_names_the_line():
    with pytest.raises(ShaderError, match="no ISF header"):
        parse_isf("void main() {}", "a.fs")
    with pytest.raises(ShaderError) as err:
        parse_isf('/*{\n "INPUTS": [\n {"NAME": "a" "TYPE": "float"}\n]}*/\nvoid main(){}', "b.fs")
    assert err.value.line == 3 and "not valid JSON" in err.value.reason
    with pytest.raises(ShaderError, match="unknown TYPE"):
        parse_isf('/*{"INPUTS": [{"NAME": "a", "TYPE": "float3"}]}*/', "c.fs")


def test_size_expressions():
    v = {"WIDTH": 1920, "HEIGHT": 1080, "trailCount": 16.0}
    assert eval_size_expr("floor($WIDTH/4.0)", v) == 480
    assert eval_size_expr("$trailCount", v) == 16
    assert eval_size_expr("max($WIDTH, $HEIGHT) * 0.5 + 1", v) == 961
    assert eval_size_expr("512", v) == 512
    for bad in ("__import__('os')", "$nope", "WIDTH", "(1).__class__"):
        with pytest.raises((ValueError, SyntaxError)):
            eval_size_expr(bad, v)
    # Unreadable sizes fall back to the render size; results are clamped to at least one pixel.
    assert target_size(IsfPass("t", width="$nope", height="0"), (640, 360), {}) == (640, 1)
    assert target_size(IsfPass("t", width="$n*2"), (640, 360), {"n": 3.0}) == (6, 360)


def test_fragment_translation_maps_glsl1_names_and_keeps_line_numbers():
    text = '/*{"INPUTS": [{"NAME": "inputImage", "TYPE": "image"}]}*/\n' \
           "#version 120\nvarying vec2 uv;\nvoid main() {\n" \
           "  gl_FragColor = texture2D(inputImage, vv_FragNormCoord)"\
           " + IMG_THIS_PIXEL(inputImage);\n}\n"
    doc = parse_isf(text, "f.fs")
    vertex, fragment, rules = isf.build_sources(doc)
    assert fragment.startswith("#version 330\n")
    user = fragment.split("#line 1\n", 1)[1]
    # same number of lines as the file, so compiler line numbers are the file's
    assert user.splitlines()[4].strip().startswith("isf_FragColor = texture(inputImage, "
                                                   "isf_FragNormCoord)")
    assert "#version 120" not in user and "in vec2 uv;" in user
    assert "uniform sampler2D inputImage;" in fragment and "_inputImage_imgSize" in fragment
    assert "gl_FragColor → out vec4" in rules and "texture2D → texture" in rules
    assert "v1 name vv_FragNormCoord" in rules
    assert "void isf_vertShaderInit" in vertex
    assert doc.kind == "filter"


def test_every_audio_uniform_is_declared_once():
    decl = audio_uniform_declarations()
    for name, _gtype, meaning in AUDIO_UNIFORMS:
        assert decl.count(f" {name};") == 1, name
        assert meaning
    # A scene input named like an audio uniform wins over the host's declaration.
    assert "la_bass;" not in audio_uniform_declarations(exclude={"la_bass"})


def test_shadertoy_wrapping():
    src = ("precision highp float;\nvoid mainImage(out vec4 fragColor, in vec2 fragCoord) {\n"
           "  fragColor = texture2D(iChannel0, fragCoord / iResolution.xy) * iGlobalTime;\n}\n")
    doc = shadertoy.parse_shadertoy(src, "s.glsl")
    assert doc.channels == {0}
    _, fragment, rules = shadertoy.build_sources(doc)
    assert "uniform sampler2D iChannel0;" in fragment
    assert "mainImage(c, gl_FragCoord.xy)" in fragment
    assert "iGlobalTime" not in fragment.split("#line 1")[1]
    assert "old name iGlobalTime → iTime" in rules
    with pytest.raises(ShaderError, match="mainImage"):
        shadertoy.parse_shadertoy("void main() {}", "x.glsl")


def test_corpus_headers_all_parse():
    files = sorted(CORPUS.glob("*.fs"))
    assert len(files) >= 28
    kinds = {}
    for f in files:
        doc = isf.load_isf(f)
        kinds[f.name] = doc.kind
        isf.build_sources(doc)
    assert kinds["Waveform Displace.fs"] == "filter"
    assert kinds["Solid Color.fs"] == "generator"
    life = isf.load_isf(CORPUS / "Life.fs")
    assert life.vertex_source is not None


def test_readme_uniform_table_is_in_step():
    from liveai.visuals.uniforms import readme_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("<!-- uniforms:begin -->")[1].split("<!-- uniforms:end -->")[0]
    assert block.strip() == readme_table().strip(), (
        "README uniform table is stale: regenerate it with\n"
        "  .venv/bin/python -c 'from liveai.visuals.uniforms import readme_table as t; print(t())'")


def test_badly_quoted_keys_are_repaired_like_a_real_file():
    # From the public collection: 'ISFVSN" : "2",' is missing its opening quote.
    text = '/*{\n "CREDIT": "x",\n ISFVSN" : "2",\n INPUTS: []\n}*/\nvoid main(){}'
    doc = parse_isf(text, "r.fs")
    assert doc.header["ISFVSN"] == "2"
    assert "header: badly quoted JSON keys repaired" in doc.rules
    # a value (not a key) that is broken is still an error with its line
    with pytest.raises(ShaderError) as err:
        parse_isf('/*{\n "A": "x",\n "B": nope\n}*/', "v.fs")
    assert err.value.line == 3
