"""Presets: typed config from TOML; every bad preset gives one clear line and exit code 2."""

from __future__ import annotations

import pytest
from conftest import ROOT, run_cli

from liveai.config import ShowConfig, describe, load_show, settings_markdown
from liveai.errors import ConfigError


def test_shipped_presets_load():
    for path in sorted((ROOT / "presets").glob("*.toml")):
        config, _ = load_show(str(path))
        assert isinstance(config, ShowConfig)


def test_defaults_and_values(tmp_path):
    p = tmp_path / "show.toml"
    p.write_text('name = "x"\n[audio]\nblock_size = 128\n[projector]\nfps = 30\n')
    config, path = load_show(str(p))
    assert path == p
    assert config.audio.block_size == 128
    assert config.projector.fps == 30.0 and isinstance(config.projector.fps, float)
    assert config.audio.sample_rate_hz == 48000  # default kept
    with pytest.raises(AttributeError):
        config.audio.block_size = 5  # frozen


def test_every_setting_is_documented_and_the_readme_is_in_step():
    rows = describe()
    assert len(rows) > 15
    assert all(doc for *_, doc in rows)
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- settings:begin -->")[1].split("<!-- settings:end -->")[0]
    assert block.strip() == settings_markdown().strip(), (
        "README settings table is stale: regenerate it with\n"
        "  .venv/bin/python -c 'from liveai.config import settings_markdown as s; print(s())'"
    )


BAD = [
    ("syntax", "[audio\nblock_size = 1\n", ["TOML syntax error", "line 1"]),
    ("unknown", "[audio]\nblok_size = 128\n", ["unknown key 'audio.blok_size'",
                                                "did you mean 'audio.block_size'"]),
    ("type", '[audio]\nblock_size = "big"\n', ["audio.block_size", '"big"', "wrong type",
                                               "integer"]),
    ("range", "[audio]\nblock_size = 3000\n", ["audio.block_size = 3000", "out of range",
                                               "32 to 2048"]),
    ("choice", "[audio]\nsample_rate_hz = 12345\n", ["audio.sample_rate_hz = 12345",
                                                     "not one of"]),
    ("table", "audio = 5\n", ["audio = 5", "should be a table"]),
    ("channels", "[audio]\ninput_channels = [1, 1]\n", ["audio.input_channels", "twice"]),
    ("bool", "[projector]\nfullscreen = 1\n", ["projector.fullscreen = 1", "true/false"]),
    ("nan", "[projector]\nfps = nan\n", ["projector.fps = nan", "finite number"]),
]


@pytest.mark.parametrize(("case", "text", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_preset_one_clear_line_exit_2(tmp_path, case, text, expected):
    p = tmp_path / f"{case}.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_show(str(p))
    msg = str(err.value)
    assert str(p) in msg
    for part in expected:
        assert part in msg, msg
    res = run_cli("run", "--preset", str(p), "--headless", "--seconds", "1")
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert str(p) in lines[0] and expected[0] in lines[0]


def test_missing_preset_file_and_name(tmp_path):
    res = run_cli("run", "--preset", str(tmp_path / "nope.toml"))
    assert res.returncode == 2
    assert "nope.toml" in res.stderr and "not found" in res.stderr
    res = run_cli("run", "--preset", "no-such-show")
    assert res.returncode == 2
    assert "no-such-show" in res.stderr and "available: ambient, club, default" in res.stderr


def test_bad_command_line_value_is_checked_like_a_preset():
    res = run_cli("run", "--block-size", "5000", "--seconds", "1")
    assert res.returncode == 2
    assert "command line: audio.block_size = 5000 is out of range" in res.stderr


def test_cli_help_and_version():
    for args in (["--help"], ["run", "--help"], ["devices", "--help"], ["bench", "audio",
                                                                        "--help"]):
        res = run_cli(*args)
        assert res.returncode == 0 and "usage: liveai" in res.stdout
    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout.startswith("liveai ")
