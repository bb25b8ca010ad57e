"""The adaptive mixer in a simulated hall (pyroomacoustics): programme → mixer → room → mic + crowd.

One show per session (``venue_run``): a 30 x 20 x 10 m hall at RT60 1.6 s, the room mic 18 m
from the PA, a crowd of five talkers growing from -40 to -15 dB relative to the music at the mic;
after 28 s the audience fills the floor and the RT60 drops to 1.0 s. A gate the adaptive mixer
does not meet yet becomes a strict xfail naming the measured figure, so it flips the day it
passes (none at present).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from liveai.mixer import AdaptiveMixer, MixerConfig, venue

SR = 48000
CHANGE_S = 28.0


@pytest.fixture(scope="module")
def hall():
    return venue.make_rooms(venue.Hall(sample_rate_hz=SR))


@pytest.fixture(scope="module")
def venue_run(hall):
    rooms, crowd = hall
    mixer = AdaptiveMixer(SR, 1024, 2, MixerConfig())
    run = venue.run_venue(mixer, rooms, crowd, duration_s=50.0, change_s=CHANGE_S)
    return mixer, run, venue.figures(run)


def _band_rt60(h: np.ndarray, fc: float) -> float:
    import pyroomacoustics as pra

    sos = signal.butter(4, [fc / np.sqrt(2), fc * np.sqrt(2)], btype="bandpass", fs=SR,
                        output="sos")
    return float(pra.experimental.measure_rt60(signal.sosfilt(sos, h), SR, decay_db=30))


def test_hall_is_realistic(hall):
    rooms, crowd = hall
    for h, rt in zip(rooms, (1.6, 1.0), strict=True):
        for fc in (500.0, 1000.0):
            assert _band_rt60(h, fc) == pytest.approx(rt, rel=0.12)
        # the mic hears mostly reverb: direct sound well under the rest
        peak = int(np.argmax(np.abs(h)))
        direct = np.sum(h[peak - 50:peak + 50] ** 2)
        assert np.sum(h) != 0 and np.sum(h[peak + 240:] ** 2) > 3 * direct
    assert len(crowd) == 5


def test_response_estimate_converges(venue_run):
    _, _, fig = venue_run
    assert fig["error_before_change_db"] <= 1.5  # 1/3-octave, 100 Hz - 8 kHz, before the change
    assert fig["converge_s"] <= 20.0  # and stays within it from then on


def test_response_estimate_tracks_the_full_room(venue_run):
    _, _, fig = venue_run
    assert fig["error_end_db"] <= 1.5  # 22 s after the audience filled the floor


def test_reconverges_within_15_s(venue_run):
    _, _, fig = venue_run
    assert fig["reconverge_s"] <= 15.0


def test_correction_removes_half_the_deviation(venue_run):
    _, _, fig = venue_run
    assert fig["flat_eq_db"] <= 0.5 * fig["flat_room_db"]  # the empty hall
    assert fig["flat_eq_end_db"] <= 0.5 * fig["flat_room_end_db"]  # full hall, loud crowd


def test_limits_hold(venue_run):
    mixer, run, fig = venue_run
    cfg = mixer.config
    assert fig["max_band_db"] <= cfg.max_boost_db + 1e-9
    assert fig["min_band_db"] >= -cfg.max_cut_db - 1e-9
    assert np.min(run.gain_db) >= 0.0 and fig["max_gain_db"] <= cfg.crowd_max_gain_db + 1e-9
    assert fig["min_duck_db"] > -20.0
    assert fig["peak_out"] <= 10 ** (cfg.ceiling_db / 20)
    # the EQ never changes faster than its rate limit
    steps = np.abs(np.diff(np.array(run.band_gains_db), axis=0))
    assert steps.max() <= cfg.max_rate_db_s * 1.0 + 1e-9  # reports are 1 s apart


def test_crowd_estimate_when_the_crowd_is_loud(venue_run):
    _, run, _ = venue_run
    loud = run.times_s >= 45.0  # crowd -17.5 .. -15 dB relative to the music
    assert np.max(np.abs(run.crowd_est_db[loud] - run.crowd_true_db[loud])) <= 2.0


def test_crowd_estimate_follows_the_crowd_once_measured(venue_run):
    """From 15 s and outside the 15 s after the audience fills the floor, a crowd 32..15 dB
    under the music reads within 2 dB (measured: 0.9 dB)."""
    _, _, fig = venue_run
    assert fig["crowd_err_settled_db"] <= 2.0


def test_crowd_estimate_reconverges_within_15_s_of_the_room_change(venue_run):
    """The exact fit of the new room bridges the 11 s until three 5.5 s frames of it are in
    (measured: never further than 2 dB from the crowd after the change)."""
    _, _, fig = venue_run
    assert fig["crowd_back_s"] <= 15.0


def test_crowd_estimate_follows_the_crowd(venue_run):
    """From 15 s on, through the room change: the last estimate holds for the 2.3 s before the
    new room can be fitted, then the fit measures it every 0.75 s until its own frames are in
    (measured: within 0.9 dB from 15 s, within 0.8 dB in the 15 s after the change)."""
    _, run, fig = venue_run
    assert fig["crowd_err_db"] <= 2.0
    after = (run.times_s > CHANGE_S) & (run.times_s < CHANGE_S + 15.0)
    assert np.max(np.abs(run.crowd_est_db[after] - run.crowd_true_db[after])) <= 2.0
