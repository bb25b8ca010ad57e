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


@pytest.mark.parametrize("ticks", [9, 50, 120, 437])
def test_ring_statistics_match_numpy(ticks, rng):
    """The compiled per-tick statistics give numpy's answers, while the ring fills and after."""
    from liveai.analysis import sections as s

    n_hist = 120
    values = rng.normal(-20.0, 6.0, ticks)
    ring = np.full(n_hist, np.nan)
    for i, v in enumerate(values):
        ring[i % n_hist] = v
    st = np.zeros(s._N_I, dtype=np.int64)
    st[s._I_POS], st[s._I_TICKS] = ticks % n_hist, ticks
    last = lambda seconds: values[-min(int(seconds / s.TICK_S), ticks, n_hist):]  # noqa: E731
    assert s._ring_p90(ring, st, np.zeros(n_hist)) == pytest.approx(
        np.nanpercentile(last(s.HISTORY_S), 90), abs=1e-12)
    assert s._ring_mean(ring, st, 1.0) == pytest.approx(np.mean(last(1.0)), abs=1e-12)
    assert s._ring_max(ring, st, 2.0) == np.max(last(2.0))
    y = last(4.0)
    slope = np.polyfit(np.arange(len(y)) * s.TICK_S, y, 1)[0]
    assert s._ring_slope(ring, st, 4.0) == pytest.approx(slope, abs=1e-9)
