"""``liveai measure``: the sweep soundcheck on synthetic rooms with known answers, and via JACK."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from jack_room_peer import room_ir
from PIL import Image
from scipy import signal

from liveai.config import load_show
from liveai.errors import ConfigError
from liveai.mixer import AdaptiveMixer
from liveai.mixer import measure as m
from liveai.mixer.soundcheck import (
    MeasureError,
    SweepRecording,
    analyse,
    check_recording,
    run_sweep,
    write_outputs,
)

SR = 48000
ROOM_PEER = Path(__file__).resolve().parent / "jack_room_peer.py"
DESIGN_RT60_S = {125: 0.9, 250: 0.85, 500: 0.8, 1000: 0.7, 2000: 0.6, 4000: 0.5, 8000: 0.4}


def synthetic_room(rng, delay_samples: int = 2400, n_s: float = 1.5) -> np.ndarray:
    """A direct sound of gain 0.5 plus a noise tail decaying at DESIGN_RT60_S per octave."""
    n = int(n_s * SR)
    t = np.arange(n) / SR
    h = np.zeros(n)
    h[delay_samples] = 0.5
    tail = np.zeros(n)
    for fc, rt in DESIGN_RT60_S.items():
        band = signal.sosfilt(m._octave_sos(fc, SR), rng.standard_normal(n))
        tail += band * np.exp(-6.9078 * t / rt)  # 60 dB down after rt
    tail[:delay_samples + int(0.003 * SR)] = 0.0
    return h + 0.02 * tail


def record(x: np.ndarray, h: np.ndarray, rng, tail_s: float = 2.0, noise: float = 1e-5):
    """What the mic hears: ``x`` through ``h`` plus a little noise."""
    y = signal.fftconvolve(x, h)[:x.size + int(tail_s * SR)]
    return y + noise * rng.standard_normal(y.size)


def soft_clip(x: np.ndarray, drive: float = 3.0) -> np.ndarray:
    """A loudspeaker pushed too hard: tanh, 8x oversampled so no harmonic aliases."""
    up = signal.resample_poly(x, 8, 1)
    return signal.resample_poly(np.tanh(drive * up) / drive, 1, 8)[:x.size]


# -- the DSP ------------------------------------------------------------------------------------
def test_sweep_times_inverse_is_a_unit_pulse():
    sweep = m.make_sweep(SR, 2.0)
    assert sweep.size == 2 * SR and np.max(np.abs(sweep)) <= 1.0
    assert abs(sweep[0]) < 1e-6 and abs(sweep[-1]) < 1e-3  # the fades
    inv = m.inverse_filter(sweep, SR)
    pulse = signal.fftconvolve(sweep, inv)
    assert int(np.argmax(np.abs(pulse))) == sweep.size - 1
    f, r = m.response_db(pulse, SR)
    band = (f >= 40) & (f <= 16000)
    assert np.max(np.abs(r[band])) < 0.5, r[band]


def test_synthetic_room_known_answers(rng):
    h = synthetic_room(rng)
    sweep = m.make_sweep(SR, 3.0)
    level_db = -12.0
    rec = record(sweep * 10 ** (level_db / 20), h, rng)
    prof, ir = m.profile(rec, sweep, SR, level_db=level_db)
    assert abs(prof.delay_samples - 2400) <= 1
    assert prof.delay_ms == pytest.approx(50.0, abs=0.03)
    for band, want in DESIGN_RT60_S.items():
        got = prof.rt60_s[f"{band:g}"]
        assert got == pytest.approx(want, rel=0.10), (band, got, want)
    # the response: the designed room's own 1/3-octave magnitude, level included
    f, want_db = m.response_db(h, SR)
    got_db = np.asarray(prof.response_db)
    band = (f >= 31) & (f <= 16000)
    assert np.max(np.abs(got_db[band] - want_db[band])) < 0.5
    # the recovered impulse response is the room's, band-limited by the sweep (20 Hz-20 kHz)
    pulse = signal.fftconvolve(sweep, m.inverse_filter(sweep, SR))
    h_bl = signal.fftconvolve(h, pulse)[sweep.size - 1:sweep.size - 1 + h.size]
    err = ir[:h.size] - h_bl
    assert 10 * np.log10(np.sum(err ** 2) / np.sum(h_bl ** 2)) < -30.0


def test_harmonic_distortion_stays_out_of_the_linear_response(rng):
    h = synthetic_room(rng)
    sweep = m.make_sweep(SR, 3.0)
    x = sweep * 10 ** (-12 / 20)
    clean, _ = m.profile(record(x, h, rng), sweep, SR, level_db=-12.0)
    rec = record(soft_clip(x), h, rng)
    dirty, ir = m.profile(rec, sweep, SR, level_db=-12.0)
    assert dirty.delay_samples == clean.delay_samples
    for band, want in DESIGN_RT60_S.items():
        assert dirty.rt60_s[f"{band:g}"] == pytest.approx(want, rel=0.10)
    # tanh compresses the fundamental evenly: the shape of the response does not change
    d = np.asarray(dirty.response_db) - np.asarray(clean.response_db)
    f = np.asarray(clean.freqs_hz)
    band = (f >= 31) & (f <= 16000)
    assert np.ptp(d[band]) < 0.2, d
    # ...and the distortion is there, ahead of the linear response, where Farina puts it
    inv = m.inverse_filter(sweep, SR)
    h3 = m.harmonic_ir(rec, sweep, inv, 3, SR, length_samples=4800)
    assert 20 * np.log10(np.max(np.abs(h3)) / np.max(np.abs(ir))) > -60.0
    assert abs(int(np.argmax(np.abs(h3))) - 2400) <= 2


def test_simulated_hall(rng):
    """The venue simulator's hall (pyroomacoustics early part + per-octave diffuse tail)."""
    from liveai.mixer.venue import RT_SHAPE, Hall, hall_rir

    hall = Hall()
    h = hall_rir(hall, hall.pa_m, 1.0, seed=3)
    sweep = m.make_sweep(SR, 4.0)
    prof, _ = m.profile(record(sweep * 0.25, h, rng, tail_s=2.0, noise=1e-6), sweep, SR,
                        level_db=20 * np.log10(0.25))
    assert abs(prof.delay_samples - m.arrival_samples(h)) <= 2
    dist_m = float(np.linalg.norm(np.subtract(hall.pa_m, hall.mic_m)))
    assert prof.delay_ms == pytest.approx(dist_m / 343.0 * 1e3, abs=2.0)  # + pra's filter delay
    for band, shape in zip((125, 250, 500, 1000, 2000, 4000, 8000), RT_SHAPE[1:8], strict=True):
        assert prof.rt60_s[f"{band:g}"] == pytest.approx(1.0 * shape, rel=0.10), band


def test_profile_file_plot_and_mixer_seed(rng, tmp_path):
    h = synthetic_room(rng, delay_samples=960)
    sweep = m.make_sweep(SR, 2.0)
    prof, _ = m.profile(record(sweep * 0.25, h, rng), sweep, SR, level_db=20 * np.log10(0.25),
                        devices={"output": "PA", "input": "mic"})
    json_path, png_path = write_outputs(prof, tmp_path / "room")
    back = m.load_profile(json_path)
    assert back == prof
    with Image.open(png_path) as img:
        img.verify()
    with Image.open(png_path) as img:
        assert img.format == "PNG" and img.size == (960, 640)
    mixer = AdaptiveMixer(SR, 256, 2)
    assert mixer.report()["delay_ms"] == -1.0
    assert mixer.load_profile(json_path) == prof
    assert mixer.report()["delay_ms"] == pytest.approx(20.0, abs=0.05)
    assert mixer.estimator.model.offset == (960 - 480) // mixer.estimator.frame
    assert "soundcheck profile" in mixer.report()["changes"][-1][2]
    # a show stream with another latency: acoustic delay + its latency
    prof2 = m.RoomProfile(**{**dataclasses.asdict(prof), "acoustic_delay_ms": 12.0})
    mixer.load_profile(prof2, io_latency_ms=5.0)
    assert mixer.report()["delay_ms"] == pytest.approx(17.0, abs=0.05)


def test_bad_profile_files(tmp_path):
    with pytest.raises(m.ProfileError, match="no such file"):
        m.load_profile(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(m.ProfileError, match="cannot read"):
        m.load_profile(bad)
    bad.write_text(json.dumps({"sample_rate_hz": 48000, "delay_ms": 3.0}))
    with pytest.raises(m.ProfileError, match="'rt60_s' is missing"):
        m.load_profile(bad)


def _recording(mic: np.ndarray, sweep: np.ndarray, pre: int) -> SweepRecording:
    return SweepRecording(mic, sweep, SR, pre, -12.0, 10.0, {"input": "mic", "mic_channel": "1"})


@pytest.mark.parametrize("kwargs", [{"level_db": 3.0}, {"sweep_s": 0.1}, {"mic_channel": 0}])
def test_bad_settings_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        run_sweep(**kwargs)


def test_recording_checks(rng):
    sweep = m.make_sweep(SR, 1.0)
    pre = SR // 2
    x = np.r_[np.zeros(pre), sweep * 0.25, np.zeros(SR // 2)]
    with pytest.raises(MeasureError, match="the mic hears nothing — check the channel and "
                       "phantom power"):
        check_recording(_recording(np.zeros(x.size), sweep, pre))
    with pytest.raises(MeasureError, match="the mic clips"):
        check_recording(_recording(np.clip(8 * x, -1, 1), sweep, pre))
    with pytest.raises(MeasureError, match="too much noise at the mic"):
        check_recording(_recording(0.01 * x + 0.01 * rng.standard_normal(x.size), sweep, pre))
    good = _recording(0.5 * x + 1e-4 * rng.standard_normal(x.size), sweep, pre)
    peak_db, snr_db = check_recording(good)
    assert snr_db > 40 and -20 < peak_db < -5
    prof, _ = analyse(good)
    assert prof.delay_ms == pytest.approx(0.0, abs=0.05)
    assert prof.acoustic_delay_ms == pytest.approx(-10.0, abs=0.05)  # no acoustic path here


# -- through JACK ------------------------------------------------------------------------------
def _room_peer(server, room: dict, mic_channel: int) -> subprocess.Popen:
    env = {**os.environ, **server.env}
    return subprocess.Popen([sys.executable, str(ROOM_PEER), "PortAudio[^:]*:out_0$",
                             f"PortAudio[^:]*:in_{mic_channel - 1}$",
                             json.dumps(room)], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def _finish(peer: subprocess.Popen) -> list[dict]:
    try:
        peer.stdin.close()
        peer.wait(timeout=25)
    finally:
        if peer.poll() is None:
            peer.kill()
            peer.wait()
    return [json.loads(line) for line in peer.stdout.read().splitlines() if line.strip()]


@pytest.mark.jack
def test_measure_through_jack(jack_server, tmp_path):
    server = jack_server(period_frames=1024)
    delay = 480  # 10 ms: 3.4 m
    room = {"taps": {delay: 0.5, delay + 150: -0.2, delay + 400: 0.1}, "rt60_s": 0.6,
            "tail_gain": 0.01, "seed": 7}
    mic = load_show("default")[0].mixer.mic_channel or 1  # what measure uses by default
    peer = _room_peer(server, room, mic_channel=mic)
    try:
        res = run_cli("measure", "--input", "system", "--output", "system", "--seconds", "3",
                      "--tail", "1.5", "--out", str(tmp_path), env=server.env, timeout=60)
    finally:
        lines = _finish(peer)
    assert res.returncode == 0, res.stderr
    assert lines and lines[0]["ready"] and lines[-1]["xruns"] == 0, lines
    assert "measuring: sweep" in res.stderr and "Traceback" not in res.stderr
    prof = m.load_profile(tmp_path / "room_profile.json")
    assert prof.devices["mic_channel"] == str(mic)
    # the loop delay = the interface latency PortAudio reports + the room's 10 ms
    assert prof.io_latency_ms > 0
    assert prof.acoustic_delay_ms == pytest.approx(10.0, abs=2 / 48)
    h = room_ir(room, SR)
    f, want_db = m.response_db(np.r_[h, np.zeros(int(1.5 * SR) - h.size)], SR)  # same bins
    got_db = np.asarray(prof.response_db)
    band = (f >= 31) & (f <= 16000)
    assert np.max(np.abs(got_db[band] - want_db[band])) < 0.5, got_db - want_db
    for band_hz, rt in prof.rt60_s.items():
        assert rt == pytest.approx(0.6, rel=0.10), band_hz
    assert f"delay {prof.delay_ms:.1f} ms" in res.stdout
    with Image.open(tmp_path / "room_profile.png") as img:
        img.verify()


@pytest.mark.jack
def test_measure_silent_mic(jack_server, tmp_path):
    server = jack_server(period_frames=1024)
    peer = _room_peer(server, {}, mic_channel=1)  # connected, but the mic gives nothing
    try:
        res = run_cli("measure", "--input", "system", "--output", "system", "--mic-channel", "1",
                      "--seconds", "1",
                      "--tail", "0.5", "--out", str(tmp_path), env=server.env, timeout=60)
    finally:
        _finish(peer)
    assert res.returncode == 1
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("liveai:")]
    assert len(errors) == 1 and "Traceback" not in res.stderr
    assert "the mic hears nothing — check the channel and phantom power" in errors[0]
    assert not (tmp_path / "room_profile.json").exists()


def test_measure_missing_device(tmp_path):
    res = run_cli("measure", "--input", "no-such-interface-xyz", "--out", str(tmp_path),
                  timeout=60)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("liveai: no audio input device")
