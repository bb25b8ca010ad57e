"""The benchmark's bridge to madmom's tracker, which runs under another interpreter.

madmom itself is not installed here (it needs numpy < 1.24: `make bench-madmom` builds it a
virtualenv), so stand-in interpreters play its runner's part: they read the runner's input and
answer in its output format, which checks the files the bridge hands over and how it reads back.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
import soundfile as sf

from liveai.benchmarks import _madmom_beats
from liveai.errors import LiveAIError

DEMO = ("demo", np.zeros((4410, 1), np.float32), 44100, {}, None)


def _fake_interpreter(tmp_path, body: str):
    """An executable that runs ``body`` (Python) with ``paths``, the JSON list on stdin."""
    exe = tmp_path / "fake-python"
    exe.write_text(f"#!{sys.executable}\nimport json, sys\nimport soundfile as sf\n"
                   f"paths = json.load(sys.stdin)\n{body}\n")
    exe.chmod(0o755)
    return str(exe)


def test_a_missing_madmom_interpreter_says_how_to_build_one(tmp_path):
    with pytest.raises(LiveAIError, match=r"no such interpreter.*make bench-madmom"):
        _madmom_beats(str(tmp_path / "nope" / "python"), [DEMO])


def test_an_interpreter_without_madmom_reports_madmoms_own_words():
    # This test environment has no madmom: the runner's import fails, and the error says so.
    with pytest.raises(LiveAIError, match=r"stopped at demo \(0 of 1 files done\): .*"
                                          r"No module named 'madmom'"):
        _madmom_beats(sys.executable, [DEMO])


def test_every_material_reaches_madmom_as_a_44k1_wav_and_its_beats_come_back_in_order(
        tmp_path):
    rng = np.random.default_rng(1)
    at_48k = tmp_path / "at48k.wav"
    x48 = (0.1 * rng.standard_normal((48000, 2))).astype(np.float32)
    sf.write(str(at_48k), x48, 48000)
    material = [DEMO, ("at48k", x48, 48000, {}, at_48k)]
    fake = _fake_interpreter(tmp_path, (
        "for i, p in enumerate(paths):\n"
        "    info = sf.info(p)\n"
        "    print(json.dumps({'path': p, 'beats': [float(info.samplerate), info.frames, i],"
        " 'seconds': 0.5}))"))
    out = _madmom_beats(fake, material)
    assert [r["beats"] for r in out] == [[44100.0, 4410, 0], [44100.0, 44100, 1]]
    assert out[1]["path"] != str(at_48k)  # resampled into a temporary file, the original kept


def test_a_runner_that_dies_midway_names_the_file_it_stopped_at(tmp_path):
    fake = _fake_interpreter(tmp_path, (
        "print(json.dumps({'path': paths[0], 'beats': [1.0], 'seconds': 0.1}))\n"
        "sys.exit('ValueError: cannot read that wav')"))
    material = [DEMO, ("second file", DEMO[1], 44100, {}, None)]
    with pytest.raises(LiveAIError, match=r"stopped at second file \(1 of 2 files done\): "
                                          r"ValueError: cannot read that wav"):
        _madmom_beats(fake, material)
