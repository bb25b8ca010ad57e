"""The built-in demo groove: deterministic, tempo changes, sections, beats you can hear."""

from __future__ import annotations

import numpy as np

from liveai.audio.demo import ARRANGEMENT, DemoGroove
from liveai.dsp.levels import levels_offline

SR = 48000


def test_block_reads_equal_one_read_and_are_deterministic():
    whole = DemoGroove(SR).read(SR * 5)
    g = DemoGroove(SR)
    parts = []
    for n in (1, 64, 65, 8193, 100000):
        parts.append(g.read(n))
    rest = SR * 5 - sum(p.shape[0] for p in parts)
    parts.append(g.read(rest))
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert whole.dtype == np.float32 and whole.shape == (SR * 5, 2)
    assert np.all(np.isfinite(whole)) and np.max(np.abs(whole)) < 1.0


def test_arrangement_has_tempo_changes_builds_drops_breakdowns():
    names = {s.name for s in ARRANGEMENT}
    assert {"build", "drop", "breakdown", "groove", "intro"} <= names
    tempos = {s.bpm_start for s in ARRANGEMENT} | {s.bpm_end for s in ARRANGEMENT}
    assert len(tempos) >= 4
    g = DemoGroove(SR)
    g.read(SR * 200)  # a whole cycle (about 3 minutes)
    bpms = [bpm for _, _, bpm in g.section_starts]
    assert len(set(np.round(bpms))) >= 3


def test_beats_are_where_the_kick_is():
    """The 40 ms after each known beat are much louder than the 40 ms before the next one."""
    g = DemoGroove(SR, channels=1)
    x = g.read(SR * 30)[:, 0].astype(np.float64)
    win = int(0.04 * SR)
    beats = np.array([b for b in g.beat_times_samples if b + SR < x.shape[0]])
    gap = int(np.diff(beats).min())
    on = np.array([np.mean(x[b : b + win] ** 2) for b in beats])
    off = np.array([np.mean(x[b + gap - win : b + gap] ** 2) for b in beats])
    assert 10 * np.log10(np.mean(on) / np.mean(off)) > 6.0
    assert np.mean(on > off) > 0.9


def test_breakdown_is_quieter_in_the_drums():
    g = DemoGroove(SR, channels=1)
    x = g.read(SR * 150)[:, 0].astype(np.float64)
    starts = {name: s for s, name, _ in g.section_starts[::-1]}
    drop, brk = starts["drop"], starts["breakdown"]
    seg = SR * 4
    _, b_drop = levels_offline(x[drop : drop + seg], SR)
    _, b_brk = levels_offline(x[brk : brk + seg], SR)
    assert b_drop[:, 0].mean() > b_brk[:, 0].mean() + 10  # the kick is gone in the breakdown
