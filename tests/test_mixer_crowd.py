"""The crowd regression on a known answer: a reverberant path and noise of a known level."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from liveai.config import MixerConfig
from liveai.mixer.estimator import RoomEstimator

SR = 48000


def _room(rng, rt60_s: float = 1.2, delay_s: float = 0.05) -> np.ndarray:
    """A diffuse tail: noise decaying 60 dB over rt60_s, after delay_s of flight."""
    n = int(1.4 * rt60_s * SR)
    t = np.arange(n) / SR
    h = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60_s) * 0.05
    return np.r_[np.zeros(int(delay_s * SR)), h]


@pytest.mark.parametrize("noise_re_echo_db, tol_db", [(-30.0, 1.5), (-40.0, 2.5)])
def test_a_quiet_noise_under_a_reverberant_echo_is_measured(rng, noise_re_echo_db, tol_db):
    """The room model explains the mic only to 30-35 dB here (measured: its residual reads
    2.5 dB and 9 dB high); the regression takes the echo it left out."""
    n = 26 * SR
    # coloured programme: most of its power in the bass, as music has
    x = signal.lfilter([1.0], [1.0, -0.95], rng.standard_normal(n)) * 0.02
    echo = signal.oaconvolve(x, _room(rng))[:n]
    noise = rng.standard_normal(n)
    noise *= np.sqrt(np.mean(echo ** 2)) * 10 ** (noise_re_echo_db / 20) / np.std(noise)
    est = RoomEstimator(SR, MixerConfig())
    block = 4096
    est.push(x[:8 * SR], (echo + noise)[:8 * SR])
    assert not est.crowd_valid  # the residual stands in: not yet a measurement
    for k in range(8 * SR, n, block):
        est.push(x[k:k + block], echo[k:k + block] + noise[k:k + block])
    assert est.crowd_valid
    true_db = 10 * np.log10(np.mean(noise[-4 * SR:] ** 2))
    assert est.crowd_level_db() == pytest.approx(true_db, abs=tol_db)
    assert abs(est.crowd_level_db() - true_db) < abs(est.residual_level_db() - true_db)
