"""Onsets, tempo, beats and bars: known answers on synthetic signals, streaming invariance."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli

from liveai.analysis.pipeline import EventLog, FrameAnalyzer
from liveai.audio.demo import DemoGroove
from liveai.audio.ring import SpscRing
from liveai.frame import new_frame

SR = 48000
HOP = 512


def clicks(bpm: float, seconds: float, start_s: float = 0.1, sr: int = SR) -> tuple[np.ndarray,
                                                                                      np.ndarray]:
    """A click track: 1 kHz blips with a fast decay, one per beat. Returns (audio, beat times)."""
    x = np.zeros((int(seconds * sr), 1), dtype=np.float32)
    times = np.arange(start_s, seconds - 0.05, 60.0 / bpm)
    t = np.arange(400) / sr
    blip = (0.8 * np.sin(2 * np.pi * 1000 * t) * np.exp(-t / 0.004)).astype(np.float32)
    for bt in times:
        i = int(round(bt * sr))
        x[i : i + blip.size, 0] += blip
    return x, times


def analyse(x: np.ndarray, block: int | None = None, sr: int = SR) -> tuple[EventLog, list]:
    """Run x (n, channels) through a ring in ``block``-sized writes and the analyser hop by hop."""
    block = block or HOP
    fa = FrameAnalyzer(sr, HOP, 2048)
    ring = SpscRing(max(4 * block, 4 * HOP), x.shape[1])
    hop = np.zeros((HOP, x.shape[1]), dtype=np.float32)
    frame = new_frame()
    log = EventLog(sr, HOP)
    predictions = []  # (time of the frame, predicted time of the next beat)
    pos = 0
    while pos < x.shape[0] or ring.read_available() >= HOP:
        if pos < x.shape[0] and ring.write_available() >= block:
            ring.write(x[pos : pos + block])
            pos += block
        while ring.read_available() >= HOP:
            ring.read(hop)
            fa.process_hop(hop, frame)
            log.add(frame)
            t = int(frame["stream_time_samples"]) / sr
            if frame["tempo_bpm"] > 0:
                predictions.append((t, t + float(frame["next_beat_s"])))
    return log, predictions


def f_measure(est, ref, window_s: float = 0.07) -> float:
    """Beat/onset F-measure with one-to-one matching inside ±window (as mir_eval does)."""
    est, ref = sorted(est), list(ref)
    used = set()
    hits = 0
    for e in est:
        best = None
        for j, r in enumerate(ref):
            if j not in used and abs(e - r) <= window_s and (best is None or
                                                            abs(e - r) < abs(e - ref[best])):
                best = j
        if best is not None:
            used.add(best)
            hits += 1
    if not est or not ref:
        return 0.0
    p, r = hits / len(est), hits / len(ref)
    return 0.0 if hits == 0 else 2 * p * r / (p + r)


@pytest.mark.parametrize("bpm", [60.0, 90.0, 120.0, 150.0, 174.0])
def test_click_track_tempo_and_beats(bpm):
    x, times = clicks(bpm, 24.0)
    log, _ = analyse(x)
    late = [t for t in log.tempi_bpm[-400:]]
    assert np.median(late) == pytest.approx(bpm, rel=0.02)
    beats = [b for b in log.beats if b > 8.0]
    ref = [t for t in times if 8.0 < t < 23.9]
    assert f_measure(beats, ref) >= 0.95
    assert len(log.onsets) == len(times)  # every click, nothing else


def test_predicted_next_beat_is_where_the_beat_fires():
    """``next_beat_s`` lets a consumer schedule a flash ahead of time: it must be right."""
    x, _ = clicks(120.0, 20.0)
    log, predictions = analyse(x)
    beats = np.array(log.beats)
    errors = []
    for t, predicted in predictions:
        if t < 8.0 or predicted > beats[-1]:
            continue
        actual = beats[beats > t + 1e-9]
        if actual.size:
            errors.append(abs(actual[0] - predicted))
    errors = np.array(errors)
    hop_s = HOP / SR
    assert errors.size > 500
    assert np.mean(errors <= hop_s + 1e-6) > 0.95  # within one hop, nearly always


def test_demo_groove_tempo_and_beats():
    g = DemoGroove(SR, channels=2)
    x = g.read(SR * 45)  # intro and groove at 122 BPM
    log, _ = analyse(x)
    assert np.median(log.tempi_bpm[len(log.tempi_bpm) // 2 :]) == pytest.approx(122, rel=0.02)
    ref = [b / SR for b in g.beat_times_samples if 8.0 * SR < b < 44.5 * SR]
    est = [b for b in log.beats if b > 8.0]
    assert f_measure(est, ref) >= 0.9
    # Downbeats: the demo's kick is on every beat, so only the counting is checked here.
    assert 0 < len(log.downbeats) <= len(log.beats) // 3


def _bursts(rng, n: int = 40, sr: int = SR):
    """Noise bursts of random loudness at random times (>= 180 ms apart) on a quiet floor."""
    gaps = rng.uniform(0.18, 0.5, size=n)
    times = 0.3 + np.cumsum(gaps)
    x = (1e-4 * rng.standard_normal(int((times[-1] + 0.5) * sr))).astype(np.float32)
    t = np.arange(int(0.08 * sr)) / sr
    for bt in times:
        amp = rng.uniform(0.05, 0.8)
        burst = amp * rng.standard_normal(t.size) * np.exp(-t / 0.02)
        i = int(round(bt * sr))
        x[i : i + t.size] += burst.astype(np.float32)
    return x[:, None], times


def test_onsets_are_reported_in_their_hop_or_the_next(rng):
    """Every hit is reported once, by the end of the hop after the one it lands in; most in
    their own hop (all but those arriving in a hop's last few milliseconds)."""
    x, times = _bursts(rng, n=80)
    fa = FrameAnalyzer(SR, HOP, 2048)
    frame = new_frame()
    reported = []
    last = 0
    for i in range(0, x.shape[0] - HOP + 1, HOP):
        fa.process_hop(np.ascontiguousarray(x[i : i + HOP]), frame)
        if frame["onset_count"] != last:
            last = int(frame["onset_count"])
            reported.append((i + HOP) / SR)  # the moment the frame is published
    assert len(reported) == len(times)  # no misses, no extras
    delay = np.array(reported) - times
    hop_s = HOP / SR
    hop_end = (np.floor(times * SR / HOP) + 1) * hop_s  # end of the hop each hit lands in
    assert np.all(delay >= 0)
    assert np.all(np.array(reported) <= hop_end + hop_s + 1e-9)
    assert np.mean(np.array(reported) <= hop_end + 1e-9) >= 0.75


def test_band_onsets_separate_kick_and_hats(rng):
    t = np.arange(int(0.3 * SR)) / SR
    kick = (0.8 * np.sin(2 * np.pi * 55 * t) * np.exp(-t / 0.08)).astype(np.float32)
    hat = np.diff(np.diff(rng.standard_normal(t.size + 2))).astype(np.float32)
    hat *= (0.2 * np.exp(-t / 0.01)).astype(np.float32)
    x = np.zeros(SR * 4, dtype=np.float32)
    for k in range(4):
        x[int((0.3 + k * 0.9) * SR) :][: t.size] += kick
        x[int((0.75 + k * 0.9) * SR) :][: t.size] += hat
    fa = FrameAnalyzer(SR, HOP, 2048)
    frame = new_frame()
    for i in range(0, x.size - HOP + 1, HOP):
        fa.process_hop(np.ascontiguousarray(x[i : i + HOP, None]), frame)
    low, _mid, high = (int(c) for c in frame["band_onset_count"])
    assert low == 4 and high == 4


@pytest.mark.parametrize("block", [1, 64, 65, 8193])
def test_streaming_equals_any_block_size(block):
    g = DemoGroove(SR, channels=2)
    x = g.read(SR * 12)
    ref, _ = analyse(x, block=HOP)
    got, _ = analyse(x, block=block)
    assert got.as_dict() == ref.as_dict()
    assert len(ref.beats) > 10 and len(ref.onsets) > 20


def test_analyze_cli_json(tmp_path):
    x, times = clicks(100.0, 20.0, sr=44100)
    path = tmp_path / "clicks.wav"
    sf.write(str(path), x, 44100)
    res = run_cli("analyze", "--json", str(path))
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(result) >= {"bpm", "beats", "downbeats", "onsets", "sections"}
    assert result["bpm"] == pytest.approx(100.0, rel=0.02)
    assert f_measure([b for b in result["beats"] if b > 8], [t for t in times if t > 8]) >= 0.95
    assert f_measure(result["onsets"], times, window_s=0.05) >= 0.95


def test_analyze_cli_bad_files(tmp_path):
    res = run_cli("analyze", str(tmp_path / "missing.wav"))
    assert res.returncode == 1 and "audio file not found" in res.stderr
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    res = run_cli("analyze", "--json", str(bad))
    assert res.returncode == 1 and "cannot read this audio file" in res.stderr
    assert res.stdout == ""


def test_no_beats_in_silence_after_music():
    x, _ = clicks(120.0, 12.0)
    x = np.concatenate([x, np.zeros((SR * 15, 1), dtype=np.float32)])
    log, _ = analyse(x)
    assert len([b for b in log.beats if b < 12.0]) > 15
    # The beat keeps going through short gaps (a drumless breakdown keeps its phase) and stops
    # once the tempo window (6 s) holds only silence.
    assert len([b for b in log.beats if b > 12.0 + 6.0 + 1.0]) == 0


def test_analyze_reads_the_very_end_of_a_file(tmp_path):
    """Regression: the last partial hop (and hits in it) used to be dropped."""
    sr = 44100
    x = np.zeros(3 * sr - 390, dtype=np.float32)
    blip = (0.8 * np.sin(2 * np.pi * 1000 * np.arange(300) / sr)).astype(np.float32)
    x[sr : sr + 300] = blip
    x[-300:] = blip  # a hit in the last 300 samples of the file
    path = tmp_path / "end.wav"
    sf.write(str(path), x, sr)
    res = run_cli("analyze", "--json", str(path))
    assert res.returncode == 0, res.stderr
    onsets = json.loads(res.stdout.strip().splitlines()[-1])["onsets"]
    assert len(onsets) == 2 and onsets[-1] == pytest.approx(x.size / sr, abs=0.03)


def test_analyze_refuses_a_file_that_breaks_mid_way(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "broken.flac"
    sf.write(str(path), (0.1 * rng.standard_normal(SR * 20)).astype(np.float32), SR)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    res = run_cli("analyze", "--json", str(path))
    assert res.returncode == 1
    assert "stopped after" in res.stderr and "no result written" in res.stderr
    assert "{" not in res.stdout


def _engine_events(path, block: int) -> dict:
    from liveai.app import Engine
    from liveai.audio.sources import FileSource
    from liveai.config import load_show

    config, _ = load_show("default")
    source = FileSource(path, block_size=block, realtime=False)
    log = EventLog(source.sample_rate_hz, config.analysis.hop_length)
    engine = Engine(config, source, projector=False, on_frame=log.add)
    try:
        engine.start()
        assert engine.source_drained.wait(120)
    finally:
        engine.stop()
        engine.close()
    return log.as_dict()


@pytest.mark.parametrize("block", [1, 65, 8193])
def test_engine_results_do_not_depend_on_the_block_size(tmp_path, block):
    """The whole engine path (feeder → ring → analysis thread) == any block size."""
    path = tmp_path / "groove.wav"
    sf.write(str(path), DemoGroove(SR).read(SR * 8), SR, subtype="FLOAT")
    ref = _engine_events(path, 512)
    assert len(ref["onsets"]) > 10 and len(ref["beats"]) > 3
    assert _engine_events(path, block) == ref


@pytest.mark.parametrize(("before", "after"), [(120.0, 135.0), (128.0, 100.0)])
def test_follows_a_tempo_change(before, after):
    x1, t1 = clicks(before, 12.0)
    x2, t2 = clicks(after, 14.0, start_s=0.0)
    x = np.concatenate([x1, x2])
    times = np.concatenate([t1, t2 + 12.0])
    fa = FrameAnalyzer(SR, HOP, 2048)
    frame = new_frame()
    log = EventLog(SR, HOP)
    adopted = None
    for i in range(0, x.shape[0] - HOP + 1, HOP):
        fa.process_hop(np.ascontiguousarray(x[i : i + HOP]), frame)
        log.add(frame)
        t = (i + HOP) / SR
        if adopted is None and t > 12.0 and abs(frame["tempo_bpm"] / after - 1) < 0.02:
            adopted = t
    # The new tempo is adopted within 4 s and the beats are back on the clicks after that.
    assert adopted is not None and adopted - 12.0 < 4.0
    assert f_measure([b for b in log.beats if b > 17.0], [t for t in times if t > 17.0]) >= 0.95


def test_downbeats_follow_the_kick_on_one(rng):
    """Kick on the one, a snare-like hit on 2, 3 and 4: the bars start on the kick."""
    bpm, seconds = 120.0, 30.0
    x = np.zeros(int(seconds * SR), dtype=np.float32)
    t = np.arange(int(0.25 * SR)) / SR
    kick = (0.8 * np.sin(2 * np.pi * 55 * t) * np.exp(-t / 0.08)).astype(np.float32)
    snare = (0.3 * rng.standard_normal(t.size) * np.exp(-t / 0.03)).astype(np.float32)
    beats = np.arange(0.3, seconds - 0.3, 60.0 / bpm)
    for i, b in enumerate(beats):
        hit = kick if i % 4 == 0 else snare
        x[int(b * SR) :][: t.size] += hit
    log, _ = analyse(x[:, None])
    ones = beats[::4]
    est = [d for d in log.downbeats if d > 10.0]
    assert f_measure(est, [o for o in ones if o > 10.0]) >= 0.9
    # one bar per four beats
    assert abs(len(est) - len([o for o in ones if o > 10.0])) <= 1


# -- the performer's hands: tap, nudge, resync --------------------------------------------------

def _run_tracker(tracker, frame, hops, onset=0.0, taps=(), nudges=(), resync_at=None):
    """Feed ``hops`` hops; tap / nudge / resync at the given hop numbers; return beat hops."""
    beats = []
    for h in range(hops):
        if h in taps:
            tracker.tap()
        if h in nudges:
            tracker.nudge(nudges[h])
        if h == resync_at:
            tracker.resync()
        if tracker.process(onset, 0.0, frame):
            beats.append(h)
    return beats


def test_three_taps_set_tempo_and_phase_even_in_silence():
    from liveai.analysis.rhythm import BeatTracker
    from liveai.frame import new_frame

    sr, hop = 48000, 480  # 100 hops per second
    tr = BeatTracker(sr, hop)
    f = new_frame()
    taps = (300, 350, 400)  # 0.5 s apart: 120 BPM
    beats = _run_tracker(tr, f, 900, taps=taps)
    assert tr.tempo_bpm == pytest.approx(120.0, abs=0.5)
    after = [b for b in beats if b > 400]
    assert after[:4] == [450, 500, 550, 600]  # on the tapped grid, in silence
    # the hold lasts 16 beats, then silence stops the beats again
    assert after[-1] < 400 + 17 * 50 + 60


def test_nudge_moves_the_grid_and_resync_sets_the_downbeat():
    from liveai.analysis.rhythm import BeatTracker
    from liveai.frame import new_frame

    sr, hop = 48000, 480
    tr = BeatTracker(sr, hop)
    f = new_frame()
    beats = _run_tracker(tr, f, 520, taps=(300, 350, 400), nudges={470: 30.0})
    assert beats[-1] == 503  # 500 + 3 hops (30 ms) later
    _run_tracker(tr, f, 10, resync_at=5)
    nxt = []
    for h in range(200):
        if tr.process(0.0, 0.0, f):
            nxt.append((h, int(f["beat_in_bar"])))
    assert nxt and nxt[0][1] == 0  # the next beat after resync is the one


@pytest.mark.parametrize("kind", ["white", "pink", "crowd"])
def test_no_beats_in_noise(kind):
    """Noise has no pulse: the tracker keeps quiet (a crowd between songs must not flash)."""
    rng = np.random.default_rng(3)
    n = 25 * SR
    x = (0.1 * rng.standard_normal(n)).astype(np.float32)
    if kind == "pink":
        spec = np.fft.rfft(x)
        spec[1:] /= np.sqrt(np.arange(1, spec.size))
        x = np.fft.irfft(spec, n).astype(np.float32)
        x *= 0.1 / x.std()
    elif kind == "crowd":  # noise whose loudness wanders like voices in a room
        env = np.convolve(np.abs(rng.standard_normal(n // 480)), np.ones(20) / 20, "same")
        x *= np.repeat(env, 480)[:n].astype(np.float32)
    log, _ = analyse(x[:, None])
    assert log.beats == []


# -- metre, reverb, external clock --------------------------------------------------------------

def _accented(bpm: float, seconds: float, beats_per_bar: int, rng, start_s: float = 0.3):
    """A low kick on each downbeat, a click on the other beats. Returns (audio, beat times)."""
    x = np.zeros(int(seconds * SR), dtype=np.float32)
    t = np.arange(int(0.25 * SR)) / SR
    kick = (0.8 * np.sin(2 * np.pi * 55 * t) * np.exp(-t / 0.08)).astype(np.float32)
    blip = (0.5 * np.sin(2 * np.pi * 1000 * t) * np.exp(-t / 0.004)).astype(np.float32)
    times = np.arange(start_s, seconds - 0.3, 60.0 / bpm)
    for i, b in enumerate(times):
        x[int(b * SR) :][: t.size] += kick if i % beats_per_bar == 0 else blip
    return x[:, None], times


@pytest.mark.parametrize("beats_per_bar", [3, 4])
def test_metre_three_or_four_from_the_music(rng, beats_per_bar):
    """A 3/4 click at 150 BPM (kick on one) gets 3 beats per bar, a 4/4 one keeps 4."""
    x, times = _accented(150.0, 30.0, beats_per_bar, rng)
    fa = FrameAnalyzer(SR, HOP, 2048)
    frame = new_frame()
    log = EventLog(SR, HOP)
    for i in range(0, x.shape[0] - HOP + 1, HOP):
        fa.process_hop(np.ascontiguousarray(x[i : i + HOP]), frame)
        log.add(frame)
    assert fa.beats.beats_per_bar == beats_per_bar
    ones = [t for t in times[::beats_per_bar] if t > 12.0]
    assert f_measure([d for d in log.downbeats if d > 12.0], ones) >= 0.9
    assert f_measure([b for b in log.beats if b > 8.0], [t for t in times if t > 8.0]) >= 0.95


def _hall(x: np.ndarray, rng, rt60_s: float = 1.8, noise_db: float = -20.0) -> np.ndarray:
    """Through a reverberant hall (exponentially decaying noise, direct-to-reverberant ratio
    about -4 dB) and with pink noise ``noise_db`` below the reverberant signal."""
    from scipy import signal

    n = int(rt60_s * SR)
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / rt60_s)  # -60 dB at rt60_s
    tail[: int(0.01 * SR)] = 0.0
    tail *= 10 ** (4.0 / 20) / np.sqrt(np.sum(tail**2))  # reverberant energy 4 dB above direct
    ir = tail
    ir[0] = 1.0
    wet = signal.fftconvolve(x[:, 0], ir)[: x.shape[0]]
    white = rng.standard_normal(wet.size)
    spec = np.fft.rfft(white)
    spec[1:] /= np.sqrt(np.arange(1, spec.size))
    pink = np.fft.irfft(spec, wet.size)
    pink *= np.std(wet) * 10 ** (noise_db / 20) / np.std(pink)
    y = wet + pink
    return (0.5 * y / np.max(np.abs(y)))[:, None].astype(np.float32)


def test_reverberant_click_track_still_beats(rng):
    """Regression (issue #4): in a 1.8 s hall with noise the confidence never reached the
    gate, so no beat fired at all."""
    x, times = clicks(120.0, 30.0)
    log, _ = analyse(_hall(x, rng))
    assert np.median(log.tempi_bpm[-400:]) == pytest.approx(120.0, rel=0.02)
    ref = [t for t in times if 8.0 < t < 29.9]
    assert f_measure([b for b in log.beats if b > 8.0], ref) >= 0.9


def test_follow_external_clock_sets_beats_bars_and_tempo():
    """An external clock (Link, MIDI clock) drives tempo, beats and bars, even in silence."""
    from liveai.analysis.rhythm import BeatTracker

    sr, hop = 48000, 480  # 100 hops per second
    tr = BeatTracker(sr, hop)
    f = new_frame()
    assert not tr.external
    beats, bars, in_bar = [], [], []
    last_bar = 0
    for h in range(600):
        # 100 BPM: 0.6 s = 60 hops per beat; position at the end of hop h, origin at hop 10.
        tr.follow_external(100.0, (h + 1 - 10) / 60.0)
        if tr.process(0.0, 0.0, f):
            beats.append(h)
            in_bar.append(int(f["beat_in_bar"]))
        if int(f["bar_count"]) != last_bar:
            last_bar = int(f["bar_count"])
            bars.append(h)
    assert tr.external
    assert tr.tempo_bpm == pytest.approx(100.0)
    # position crosses 1, 2, ... at the end of hops 69, 129, ...; 0 is crossed at hop 9
    assert beats == [9 + 60 * k for k in range(10)]
    assert in_bar == [k % 4 for k in range(10)]
    assert bars == [9, 249, 489]
    assert f["next_beat_s"] == pytest.approx((60 - (599 - 9) % 60) / 100.0, abs=0.011)


def test_release_external_keeps_tempo_and_phase():
    """After the clock goes away the tracker listens again, from the clock's tempo and phase."""
    x, times = clicks(120.0, 24.0)
    fa = FrameAnalyzer(SR, HOP, 2048)
    frame = new_frame()
    log = EventLog(SR, HOP)
    release_s = 6.0
    for i in range(0, x.shape[0] - HOP + 1, HOP):
        t_end = (i + HOP) / SR
        if t_end <= release_s:
            fa.beats.follow_external(120.0, (t_end - times[0]) * 2.0)
        elif fa.beats.external:
            fa.beats.release_external()
        fa.process_hop(np.ascontiguousarray(x[i : i + HOP]), frame)
        log.add(frame)
    assert not fa.beats.external
    assert f_measure([b for b in log.beats if b < release_s],
                     [t for t in times if t < release_s]) >= 0.95
    # no gap and no jump at the release: the beats go on on the clicks
    after = [b for b in log.beats if release_s < b < 10.0]
    assert f_measure(after, [t for t in times if release_s < t < 10.0]) >= 0.95
    assert np.median(log.tempi_bpm[-400:]) == pytest.approx(120.0, rel=0.02)


def test_tempo_between_two_tempo_states_is_exact():
    """The tracker's states have whole-hop beat intervals (124 BPM is 45.4 hops at 48 kHz,
    hop 512); the reported tempo averages the beats' intervals, so it is not stuck on a state."""
    x, _ = clicks(124.0, 24.0)
    log, _ = analyse(x)
    assert np.median(log.tempi_bpm[-400:]) == pytest.approx(124.0, rel=0.005)


# -- metrical level: which pulse is the beat -----------------------------------------------------

def _groove(bpm: float, seconds: float, pattern: dict, rng, swing: float = 0.5):
    """Drums from 16th-note patterns (kick, snare, hat: 16 steps per bar, 1 = hit).

    Returns (audio (n, 1) float32, beat times). ``swing`` delays the odd 16ths (0.5 straight).
    """
    x = np.zeros(int(seconds * SR), dtype=np.float32)
    t = np.arange(int(0.3 * SR)) / SR
    sweep = 50.0 + 110.0 * np.exp(-t / 0.03)
    voices = {
        "kick": 0.9 * np.sin(2 * np.pi * np.cumsum(sweep) / SR) * np.exp(-t / 0.15),
        "snare": (0.35 * rng.standard_normal(t.size) + 0.3 * np.sin(2 * np.pi * 190 * t))
        * np.exp(-t / 0.06),
        "hat": 0.08 * np.diff(rng.standard_normal(t.size + 1)) * np.exp(-t / 0.015),
    }
    beat_s = 60.0 / bpm
    bars = int((seconds - 0.5) / (4 * beat_s))
    for bar in range(bars):
        for step in range(16):
            pair, odd = divmod(step, 2)
            pos = bar * 4 + pair * 0.5 + (swing * 0.5 if odd else 0.0)
            for name, steps in pattern.items():
                if steps[step]:
                    i = int((0.2 + pos * beat_s) * SR)
                    v = voices[name] * rng.uniform(0.85, 1.0)
                    x[i : i + v.size] += v[: x.size - i].astype(np.float32)
    times = 0.2 + np.arange(bars * 4) * beat_s
    return x[:, None], times


def _steps(*hits: int) -> list[int]:
    return [1 if s in hits else 0 for s in range(16)]


@pytest.mark.parametrize("name, bpm, pattern, swing", [
    # boom-bap: syncopated kicks, backbeat, swung 16th hats; the tracker's model locks to the
    # eighths (180) and the level choice reports the 90 people tap
    ("hip-hop", 90.0, {"kick": _steps(0, 3, 7, 10), "snare": _steps(4, 12),
                       "hat": _steps(*range(0, 16, 2), 5, 11, 15)}, 0.62),
    # drum & bass: snare on 2 and 4 of 174, kicks on 1 and the and of 2: stays at 174
    ("drum & bass", 174.0, {"kick": _steps(0, 10), "snare": _steps(4, 12),
                            "hat": _steps(*range(0, 16, 2))}, 0.5),
    # four on the floor: stays at 124
    ("house", 124.0, {"kick": _steps(0, 4, 8, 12), "snare": _steps(4, 12),
                      "hat": _steps(2, 6, 10, 14)}, 0.5),
])
def test_reported_tempo_is_the_level_people_tap(rng, name, bpm, pattern, swing):
    x, times = _groove(bpm, 40.0, pattern, rng, swing)
    log, _ = analyse(x)
    assert np.median(log.tempi_bpm[-600:]) == pytest.approx(bpm, rel=0.02), name
    ref = [t for t in times if t > 15.0]
    assert f_measure([b for b in log.beats if b > 15.0], ref) >= 0.9, name


def test_level_mechanics_half_double_and_offbeat():
    """Whatever level is chosen, the beats fire on it: every other beat of the model, the
    model's beats and midpoints, or its off-beats only; next_beat_s predicts them."""
    x, times = clicks(120.0, 20.0)
    log0, _ = analyse(x)
    fa = FrameAnalyzer(SR, HOP, 2048)
    fa.beats.choose_level = False
    results = {}
    for level, parity, shift in ((0.5, 0, 0.0), (2.0, -1, 0.0), (1.0, -1, 0.5)):
        fa.reset()
        frame = new_frame()
        log = EventLog(SR, HOP)
        pred = []
        for k, i in enumerate(range(0, x.shape[0] - HOP + 1, HOP)):
            if k == int(6.0 * SR / HOP):
                fa.beats._set_level(level, parity, shift)
            fa.process_hop(np.ascontiguousarray(x[i : i + HOP]), frame)
            log.add(frame)
            t = int(frame["stream_time_samples"]) / SR
            pred.append((t, t + float(frame["next_beat_s"])))
        results[(level, shift)] = (log, pred)
    late = lambda ts: [b for b in ts if b > 9.0]  # noqa: E731
    ref = [t for t in times if t > 9.0]
    # half: one beat in two of the clicks, at 60 BPM
    half, _ = results[(0.5, 0.0)]
    assert np.median(half.tempi_bpm[-300:]) == pytest.approx(60.0, rel=0.02)
    hb = late(half.beats)
    assert f_measure(hb, ref) == pytest.approx(2 / 3, abs=0.05)  # precision 1, recall 1/2
    # double: the clicks and their midpoints
    dbl, pred = results[(2.0, 0.0)]
    mids = [t + 0.25 for t in ref]
    assert np.median(dbl.tempi_bpm[-300:]) == pytest.approx(240.0, rel=0.02)
    assert f_measure(late(dbl.beats), sorted(ref + mids)) >= 0.95
    # off-beat: the midpoints only, still 120 BPM
    off, pred = results[(1.0, 0.5)]
    assert np.median(off.tempi_bpm[-300:]) == pytest.approx(120.0, rel=0.02)
    assert f_measure(late(off.beats), mids) >= 0.95
    # the prediction of the next beat holds at the shifted level too
    beats = np.array(off.beats)
    errs = [abs(beats[beats > t + 1e-9][0] - p) for t, p in pred
            if t > 9.0 and p < beats[-1]]
    assert np.mean(np.array(errs) <= HOP / SR + 1e-6) > 0.95
    assert f_measure(late(log0.beats), ref) >= 0.95  # and left alone, the clicks themselves


def test_level_patterns_and_admission():
    """The candidates' patterns on a known histogram: accents on the model's beats only."""
    from liveai.analysis import level

    fine = np.zeros((level.N_SLOTS * level.N_FINE, level.N_BANDS))
    fine[:: level.N_FINE, 0] = 1.0  # activation on every beat of the model, nothing between
    fine[:: 2 * level.N_FINE, 1] = 1.0  # the low band on every other beat
    rows, admitted = level.features(fine, 120.0)
    names = {c: r for r, c in enumerate(level.CANDIDATES)}
    one = rows[names[(1.0, -1, 0.0)], :-2].reshape(4, 4, level.N_BANDS)
    assert np.allclose(one[:, 0, 0], 4.0) and np.allclose(one[:, 1:, 0], 0.0)
    # double time and the off-beats have no events on (half of) their beats: not admitted
    assert admitted[names[(1.0, -1, 0.0)]]
    assert not admitted[names[(2.0, -1, 0.0)]] and not admitted[names[(1.0, -1, 0.5)]]
    assert admitted[names[(0.5, 0, 0.0)]] and admitted[names[(0.5, 1, 0.0)]]
    half = rows[names[(0.5, 0, 0.0)], :-2].reshape(4, 4, level.N_BANDS)
    assert np.allclose(half[:, 0, 1], half[0, 0, 1]) and np.allclose(half[:, 2, 1], 0.0)
    assert rows[names[(0.5, 0, 0.0)], -2] == pytest.approx(np.log2(60.0 / 100.0))


def test_triple_metre_never_halves():
    """Low-band accents every third beat of the model: half time would cut across the bars."""
    from liveai.analysis.level import CANDIDATES, LevelChooser

    ch = LevelChooser()
    for beat in range(30):
        slot = beat % 8
        for k in range(20):
            low = 1.0 if beat % 3 == 0 and k == 0 else 0.05
            ch.add(slot, k / 20.0, 1.0 if k == 0 else 0.0, low, 0.0, 0.0)
        ch.end_beat(slot)
    assert ch.ready and ch.triple
    _, admitted = ch.features(150.0)
    assert not any(a for a, c in zip(admitted, CANDIDATES, strict=True) if c[0] == 0.5)


def test_a_breakdown_keeps_the_grooves_beat(rng):
    """House at 128, then 8 bars of pads with a piano chord every other bar, then the drums:
    the beats go on through the breakdown on the groove's grid, at the groove's tempo."""
    bpm = 128.0
    beat_s = 60.0 / bpm
    four = {"kick": _steps(0, 4, 8, 12), "snare": _steps(4, 12), "hat": _steps(2, 6, 10, 14)}
    groove, _ = _groove(bpm, 8 * 4 * beat_s + 0.5, four, rng)  # 8 bars
    n_bar = int(round(4 * beat_s * SR))
    drums = groove[: 8 * n_bar, 0]
    t = np.arange(8 * n_bar) / SR
    pads = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.6, 329.6)) * 0.05
    pads *= np.minimum(t / 1.0, 1.0)  # a slow swell, no onsets
    for bar in range(0, 8, 2):  # a soft piano chord on every other downbeat
        i = bar * n_bar
        d = np.arange(int(1.5 * SR)) / SR
        pads[i : i + d.size] += 0.1 * np.exp(-d / 0.4) * sum(
            np.sin(2 * np.pi * f * d) for f in (440.0, 523.3, 659.3))
    x = np.concatenate([drums, pads, drums]).astype(np.float32)[:, None]
    # the drums start 0.2 s into each groove part (see _groove)
    grid = 0.2 + np.arange(24 * 4) * beat_s
    log, _ = analyse(x)
    start, end = 8 * n_bar / SR, 16 * n_bar / SR
    inside = [b for b in log.beats if start + 2.0 < b < end]
    ref = [g for g in grid if start + 2.0 < g < end]
    assert f_measure(inside, ref) >= 0.9
    assert 60.0 / np.median(np.diff(inside)) == pytest.approx(bpm, rel=0.02)
    after = [b for b in log.beats if b > end + 2.0]
    assert f_measure(after, [g for g in grid if g > end + 2.0]) >= 0.9


# -- the compiled hop -----------------------------------------------------------------------------

def test_beat_kernel_state_names_match_their_indices():
    """The tracker's state and settings arrays are indexed by named constants: every name in
    STATE_NAMES / CFG_NAMES is the constant of its index, and the tracker's attributes land
    there."""
    from liveai.analysis.rhythm import BeatTracker
    from liveai.dsp import beathop as bh

    for i, name in enumerate(bh.STATE_NAMES):
        assert getattr(bh, name.upper()) == i, name
    for i, name in enumerate(bh.CFG_NAMES):
        assert getattr(bh, "C_" + name.upper()) == i, name
    assert len(bh.STATE_NAMES) == bh.N_STATE and len(bh.CFG_NAMES) == bh.N_CFG
    tr = BeatTracker(SR, HOP)
    tr.period = 41.5
    tr.beat_in_bar = 2
    assert tr._st[bh.PERIOD] == 41.5 and tr._st[bh.BEAT_IN_BAR] == 2.0
    assert tr._cfg[bh.C_HOP_S] == HOP / SR and not np.any(np.isnan(tr._cfg))


def test_pipeline_beats_are_the_trackers_own():
    """The pipeline runs the beat tracker inside its one compiled hop call: every hop's tempo,
    beat and bar fields equal those of a tracker run alone on the same detection functions."""
    from liveai.analysis.rhythm import BeatTracker

    sr = 44100
    x = DemoGroove(sr, channels=1).read(sr * 40)
    fa = FrameAnalyzer(sr, HOP, 2048)
    alone = BeatTracker(sr, HOP)
    fused, own = new_frame(), new_frame()
    fields = ("tempo_bpm", "tempo_confidence", "beat_count", "beat_phase", "next_beat_s",
              "bar_count", "beat_in_bar", "beats_per_bar", "bar_phase")
    for i in range(0, x.shape[0] - HOP + 1, HOP):
        fa.process_hop(np.ascontiguousarray(x[i : i + HOP]), fused)
        own["rms_db"] = fused["rms_db"]
        odf = fa.onsets.odf
        alone.process(fa.onsets.rhythm_odf[0], odf[1], own, odf[2], odf[3])
        for name in fields:
            assert fused[name] == own[name], (name, i)
    assert int(fused["beat_count"]) > 60 and int(fused["bar_count"]) > 10


def test_pipeline_follows_a_new_channel_count():
    """A stream that turns from mono to stereo: the hop call's arguments are gathered again
    (the level analyser resized its loudness state), and the loudness counts both channels,
    as an analyser built for stereo does."""
    from liveai.analysis.levels import LevelAnalyzer

    rng = np.random.default_rng(5)
    fa = FrameAnalyzer(SR, HOP, 2048)
    fused = new_frame()
    for _ in range(20):
        fa.process_hop((0.1 * rng.standard_normal((HOP, 1))).astype(np.float32), fused)
    stereo = LevelAnalyzer(SR, HOP, 2048, channels=2)
    ref = new_frame()
    x = np.zeros((HOP, 2), dtype=np.float32)
    for _ in range(400):  # past the 3 s loudness window
        x[:, 0] = 0.2 * rng.standard_normal(HOP)
        x[:, 1] = 0.05 * rng.standard_normal(HOP)
        fa.process_hop(x, fused)
        stereo.process_hop(x, ref)
    assert fused["loudness_lufs"] == pytest.approx(float(ref["loudness_lufs"]), abs=1e-4)
    assert fused["momentary_lufs"] == pytest.approx(float(ref["momentary_lufs"]), abs=1e-4)
