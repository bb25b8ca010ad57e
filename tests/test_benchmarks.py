"""The benchmark's bridge to madmom's tracker, which runs under another interpreter."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from liveai.benchmarks import _madmom_beats
from liveai.errors import LiveAIError

MATERIAL = [("demo", np.zeros((4410, 1), np.float32), 44100, {}, None)]


def test_a_missing_madmom_interpreter_says_how_to_build_one(tmp_path):
    with pytest.raises(LiveAIError, match=r"no such interpreter.*make bench-madmom"):
        _madmom_beats(str(tmp_path / "nope" / "python"), MATERIAL)


def test_an_interpreter_without_madmom_reports_madmoms_own_words():
    # This test environment has no madmom: the runner's import fails, and the error says so.
    with pytest.raises(LiveAIError, match=r"after 0 of 1 files: .*No module named 'madmom'"):
        _madmom_beats(sys.executable, MATERIAL)
