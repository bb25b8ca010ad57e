"""The crowd regression on a known answer: a reverberant path and noise of a known level."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from liveai.config import MixerConfig
from liveai.dsp.firls import FirLeastSquares
from liveai.mixer.estimator import RoomEstimator

SR = 48000


def _room(rng, rt60_s: float = 1.2, delay_s: float = 0.05) -> np.ndarray:
    """A diffuse tail: noise decaying 60 dB over rt60_s, after delay_s of flight."""
    n = int(1.4 * rt60_s * SR)
    t = np.arange(n) / SR
    h = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60_s) * 0.05
    return np.r_[np.zeros(int(delay_s * SR)), h]


def _show(rng, seconds: float, noise_re_echo_db: float, gap_s: tuple[float, float] | None = None):
    """Coloured programme (most of its power in the bass, as music has), its echo, a noise."""
    n = int(seconds * SR)
    x = signal.lfilter([1.0], [1.0, -0.95], rng.standard_normal(n)) * 0.02
    if gap_s is not None:
        x[int(gap_s[0] * SR):int(gap_s[1] * SR)] = 0.0
    echo = signal.oaconvolve(x, _room(rng))[:n]
    noise = rng.standard_normal(n)
    noise *= np.sqrt(np.mean(echo ** 2)) * 10 ** (noise_re_echo_db / 20) / np.std(noise)
    return x, echo, noise


def _play(est: RoomEstimator, x, mic, start_s: float, stop_s: float, block: int = 4096) -> None:
    for k in range(int(start_s * SR), int(stop_s * SR), block):
        stop = min(k + block, int(stop_s * SR))
        est.push(x[k:stop], mic[k:stop])


@pytest.mark.parametrize("noise_re_echo_db, tol_db", [(-30.0, 1.5), (-40.0, 2.5)])
def test_a_quiet_noise_under_a_reverberant_echo_is_measured(rng, noise_re_echo_db, tol_db):
    """The room model explains the mic only to 30-35 dB here (measured: its residual reads
    2.5 dB and 9 dB high); the regression takes the echo it left out."""
    x, echo, noise = _show(rng, 26.0, noise_re_echo_db)
    est = RoomEstimator(SR, MixerConfig())
    est.push(x[:8 * SR], (echo + noise)[:8 * SR])
    assert not est.crowd_valid  # the residual stands in: not yet a measurement
    _play(est, x, echo + noise, 8.0, 26.0)
    assert est.crowd_valid
    true_db = 10 * np.log10(np.mean(noise[-4 * SR:] ** 2))
    assert est.crowd_level_db() == pytest.approx(true_db, abs=tol_db)
    assert abs(est.crowd_level_db() - true_db) < abs(est.residual_level_db() - true_db)


def test_the_first_measurement_uses_the_model_as_it_is_then(rng):
    """Three frames (11 s) in, the snapshot of the model as it is then runs back over all of
    them: a model frozen at the start (ERLE of a few dB) read the noise 17 dB high in the venue.
    Measured here: +3.4 dB at 11.5 s (the model's residual: +15.2 dB)."""
    x, echo, noise = _show(rng, 11.5, -30.0)
    est = RoomEstimator(SR, MixerConfig())
    _play(est, x, echo + noise, 0.0, 11.5)
    assert est.crowd_valid and est.crowd.frames_used == 3
    true_db = 10 * np.log10(np.mean(noise[-6 * SR:] ** 2))
    assert est.crowd_level_db() == pytest.approx(true_db, abs=4.0)
    assert est.residual_level_db() - true_db > 10.0  # what the residual alone would say


def test_a_pause_in_the_music_is_not_a_room_change(rng):
    """In a pause the snapshot's residual is the noise, most of the mic; the room did not
    change, so the frames go on (a room change would hold the estimate for 11 s)."""
    x, echo, noise = _show(rng, 30.0, -30.0, gap_s=(16.0, 20.0))
    est = RoomEstimator(SR, MixerConfig())
    _play(est, x, echo + noise, 0.0, 30.0)
    assert est.crowd.mismatches == 0
    assert est.crowd.frames_used == est.crowd.max_frames
    true_db = 10 * np.log10(np.mean(noise[-4 * SR:] ** 2))
    assert est.crowd_level_db() == pytest.approx(true_db, abs=4.0)  # measured +2.2 dB


def test_a_changed_room_restarts_the_frames_where_it_changed(rng):
    """The room changes at 16 s: the snapshot no longer fits, the change is placed within a
    hop or two of where it happened, and the frames start again there: measured again three
    frames later (+1.6 dB at 36 s; the first frames of a young model read high, +3.5 dB)."""
    n = 36 * SR
    x = signal.lfilter([1.0], [1.0, -0.95], rng.standard_normal(n)) * 0.02
    change = 16 * SR
    echo = np.r_[signal.oaconvolve(x, _room(rng, 1.6))[:change],
                 signal.oaconvolve(x, _room(rng, 1.0))[change:n]]
    noise = rng.standard_normal(n) * np.sqrt(np.mean(echo ** 2)) * 10 ** (-30 / 20)
    est = RoomEstimator(SR, MixerConfig())
    _play(est, x, echo + noise, 0.0, 36.0)
    assert est.crowd.mismatches == 1
    assert abs(est.crowd.room_since_s - 16.0) <= 2 * est.frame / SR
    assert est.crowd.t_est > 16.0 + est.crowd.frame / (2 * SR)  # a frame of the new room
    true_db = 10 * np.log10(np.mean(noise[-4 * SR:] ** 2))
    assert est.crowd_level_db() == pytest.approx(true_db, abs=2.5)


def test_an_exact_fir_fit_recovers_the_filter_and_leaves_the_noise_over_its_freedom(rng):
    """FirLeastSquares on a known answer: a decaying 2000-tap filter of a coloured reference.
    Without noise the fit explains the target to the rounding of its single-precision
    products; with white noise its residual holds (N - p) / N of the noise's power, as an
    exact least-squares fit does (the raw residual reads 4 dB low here)."""
    p, n = 2000, 5000
    x = signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal(n + p - 1))
    h = rng.standard_normal(p) * np.exp(-np.arange(p) / 400.0)
    clean = signal.fftconvolve(x, h, mode="valid")  # (X h)[i] = sum_j h[j] x[i + p - 1 - j]
    solver = FirLeastSquares(p, n)
    fit, r = solver.fit(x, clean, iters=60)
    assert float(r @ r) < 1e-8 * float(clean @ clean)
    assert np.max(np.abs(fit - h)) < 1e-3 * np.max(np.abs(h))
    noise = rng.standard_normal(n) * 0.05 * np.std(clean)
    _, r = solver.fit(x, clean + noise, h0=fit, iters=60)
    sigma2 = 0.05 ** 2 * float(np.var(clean))
    assert float(r @ r) / (n - p) == pytest.approx(sigma2, rel=0.06)
    assert float(r @ r) / n < 0.5 * sigma2 * (2 - p / n)  # uncorrected, it reads low


def _changing_show(rng, seconds: float, change_s: float, start_db: float, rise_db_s: float):
    """Coloured programme through a 1.6 s room that becomes a 1.0 s room at ``change_s``, and a
    noise rising ``rise_db_s`` from ``start_db`` under the echo."""
    n = int(seconds * SR)
    x = signal.lfilter([1.0], [1.0, -0.95], rng.standard_normal(n)) * 0.02
    change = int(change_s * SR)
    echo = np.r_[signal.oaconvolve(x, _room(rng, 1.6))[:change],
                 signal.oaconvolve(x, _room(rng, 1.0))[change:n]]
    gain_db = start_db + rise_db_s * np.arange(n) / SR
    noise = rng.standard_normal(n) * np.sqrt(np.mean(echo ** 2)) * 10 ** (gain_db / 20)
    return x, echo, noise


def _weighted_db(noise: np.ndarray, stop_s: float, tau_s: float = 2.0) -> float:
    """The noise's mean square up to ``stop_s``, exponentially weighted as the estimator's."""
    seg = noise[max(0, int((stop_s - 8 * tau_s) * SR)):int(stop_s * SR)]
    w = np.exp(-np.arange(seg.size)[::-1] / (tau_s * SR))
    return float(10 * np.log10(np.sum(w * seg ** 2) / np.sum(w)))


def test_the_bridge_follows_a_rising_crowd_while_the_new_room_fills_its_frames(rng):
    """The room changes at 16 s under a noise rising 0.5 dB/s: until three frames of the new
    room are in (27 s) the regression has nothing to say, and holding its last value falls
    4-5 dB behind. The exact fit of the new room measures the noise from 2.3 s after the
    change on (measured: within 0.4 dB from its first fit at 18.4 s to 25.3 s, 4.1 dB above the
    held value by then)."""
    x, echo, noise = _changing_show(rng, 27.0, 16.0, -36.0, 0.5)
    mic = echo + noise
    est = RoomEstimator(SR, MixerConfig())
    _play(est, x, mic, 0.0, 18.0)
    assert est.crowd.mismatches == 1 and est.crowd.bridging
    assert not est.crowd.current  # the first 2.3 s: fewer samples than taps, the estimate holds
    held_db = est.crowd_level_db()
    t = 18.0
    for stop in (19.0, 21.0, 23.0, 26.0):
        _play(est, x, mic, t, stop)
        t = stop
        assert est.crowd.current and est.crowd.bridging
        assert stop - est.crowd.t_est < 0.8  # the latest fit's level describes the noise then
        true_db = _weighted_db(noise, est.crowd.t_est)
        assert est.crowd_level_db() == pytest.approx(true_db, abs=1.0)
    assert est.crowd_level_db() - held_db > 3.0  # it rose with the noise
    assert est.crowd.bridge_fits >= 9
