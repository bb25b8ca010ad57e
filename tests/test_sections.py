"""Sections on the demo groove, whose arrangement (and so every section start) is known."""

from __future__ import annotations

import numpy as np
import pytest

from liveai.analysis.pipeline import EventLog, FrameAnalyzer
from liveai.analysis.sections import SectionTracker
from liveai.audio.demo import DemoGroove
from liveai.frame import new_frame

SR, HOP = 48000, 512


@pytest.fixture(scope="module")
def demo_sections():
    groove = DemoGroove(SR, 2)
    x = groove.read(int(330 * SR))
    fa = FrameAnalyzer(SR, HOP, 2048, 2)
    ev = EventLog(SR, HOP)
    f = new_frame()
    energy = []
    for i in range(len(x) // HOP):
        fa.process_hop(x[i * HOP:(i + 1) * HOP], f)
        f["stream_time_samples"] = (i + 1) * HOP
        ev.add(f)
        energy.append(float(f["energy"]))
    truth = [(s / SR, name) for s, name, _ in groove.section_starts]
    return truth, ev.sections, np.array(energy)


def _first_after(found, name, t0, within_s):
    return next((s["time"] for s in found if s["section"] == name and t0 <= s["time"]
                 <= t0 + within_s), None)


def test_drops_are_announced_within_two_seconds(demo_sections):
    truth, found, _ = demo_sections
    drops = [t for t, name in truth if name == "drop"]
    assert len(drops) >= 3
    for t in drops:
        assert _first_after(found, "drop", t, 2.0) is not None, (t, found)


def test_breakdowns_and_builds_are_found(demo_sections):
    truth, found, _ = demo_sections
    for t, name in truth:
        if name == "breakdown":
            assert _first_after(found, "breakdown", t, 6.0) is not None, (t, found)
        if name == "build":
            assert _first_after(found, "build", t, 5.0) is not None, (t, found)


def test_states_do_not_flicker(demo_sections):
    truth, found, _ = demo_sections
    assert len(found) <= 1.5 * len(truth)
    times = [s["time"] for s in found]
    assert min(np.diff(times)) >= 1.9  # never two changes within two seconds


def test_energy_follows_the_arrangement(demo_sections):
    truth, _, energy = demo_sections
    t = (np.arange(len(energy)) + 1) * HOP / SR
    starts = [s for s, _ in truth] + [t[-1]]
    mean = {}
    for (s, name), end in zip(truth, starts[1:], strict=False):
        sel = (t > s + 3.0) & (t < end)
        mean.setdefault(name, []).append(float(energy[sel].mean()))
    assert min(mean["drop"]) > max(mean["breakdown"]) + 0.1
    assert np.all((energy >= 0.0) & (energy <= 1.0))


def test_silence_and_reset():
    tr = SectionTracker(SR, HOP)
    f = new_frame()
    f["momentary_lufs"] = -70.0
    f["band_db"] = -120.0
    for _ in range(2000):
        tr.process(f)
    assert int(f["section_count"]) <= 1 and f["section"] in (0, 1)  # unknown or breakdown
    tr.reset()
    assert tr.state == 0 and tr.count == 0
