"""Auto-EQ: band gains that move the measured room toward a target curve, within limits.

The correction wanted on each ⅓-octave band is ``target - response`` less its mean over the
trusted bands (the EQ shapes; the level is the gain stage's business). Bands with poor coherence
are not trusted (their correction is pulled to 0); a dip deeper than ``null_depth_db`` below the
one-octave trend is a null (a cancellation no EQ can fill) and is never boosted. The band gains
of ``n_bands`` fixed peaking filters, log-spaced over [freq_lo_hz, freq_hi_hz], are fitted to the
wanted correction by bounded linear least squares (``scipy.optimize.lsq_linear``) on the filters'
dB responses, clamped to [-max_cut_db, +max_boost_db] and moved at most ``max_rate_db_s``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy.optimize import lsq_linear

from liveai.dsp import biquad
from liveai.dsp.octave import smooth_db
from liveai.errors import ConfigError
from liveai.mixer.config import MixerConfig


def target_curve_db(config: MixerConfig, freqs_hz: np.ndarray) -> np.ndarray:
    """The target response on ``freqs_hz``, dB, relative (its level does not matter).

    ``flat``: 0 dB. ``house``: +3 dB shelf below 100 Hz and -1 dB per octave above 1 kHz (a
    falling top end is normal in a room). ``file``: lines ``freq_hz gain_db``, interpolated on a
    log-frequency axis.
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    if config.target == "flat":
        return np.zeros(f.size)
    if config.target == "house":
        low = 3.0 / (1.0 + (f / 100.0) ** 2)
        high = -np.maximum(np.log2(f / 1000.0), 0.0)
        return low + high
    path = Path(config.target_file)
    try:
        rows = np.loadtxt(path, ndmin=2, comments="#")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"mixer.target_file = {str(path)!r}: cannot read it ({exc})") from exc
    if rows.shape[1] < 2 or rows.shape[0] < 2 or np.any(rows[:, 0] <= 0):
        raise ConfigError(f"mixer.target_file = {str(path)!r}: needs lines 'freq_hz gain_db' "
                          "with positive frequencies, at least two")
    order = np.argsort(rows[:, 0])
    return np.interp(np.log(f), np.log(rows[order, 0]), rows[order, 1])


class AutoEQ:
    """Fixed peaking bands whose gains follow the room.

    Parameters
    ----------
    sample_rate_hz : int
    config : MixerConfig
    grid_hz : np.ndarray, shape (n_grid,)
        The ⅓-octave centres the room response is measured on.
    """

    def __init__(self, sample_rate_hz: int, config: MixerConfig, grid_hz: np.ndarray) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self.config = config
        n = config.n_bands
        hi = min(config.freq_hi_hz, 0.4 * sample_rate_hz)
        lo = config.freq_lo_hz
        self.band_freqs_hz = lo * (hi / lo) ** (np.arange(n) / (n - 1))
        bw_oct = math.log2(hi / lo) / (n - 1)  # spacing of the bands, octaves
        self.q = math.sqrt(2.0 ** bw_oct) / (2.0 ** bw_oct - 1.0)  # a band as wide as its spacing
        self.grid_hz = np.asarray(grid_hz, dtype=np.float64)
        self.in_range = (self.grid_hz >= lo / 2 ** (1 / 6)) & (self.grid_hz <= hi * 2 ** (1 / 6))
        self.target_db = target_curve_db(config, self.grid_hz)
        # dB response of each band per dB of its gain, on the grid (linearised at 6 dB)
        self._basis = np.stack([biquad.response_db(self._coef(k, 6.0), self.grid_hz,
                                                   sample_rate_hz) / 6.0 for k in range(n)], 1)
        self.gains_db = np.zeros(n)
        self.wanted_db = np.zeros(n)
        self.frozen = np.zeros(n, dtype=bool)
        self.manual_db = np.full(n, np.nan)  # NaN = automatic
        self.locked = False
        self.nulls = np.zeros(self.grid_hz.size, dtype=bool)

    def _coef(self, k: int, gain_db: float) -> np.ndarray:
        return biquad.design(biquad.PEAKING, float(self.band_freqs_hz[k]), gain_db, self.q,
                             self.sample_rate_hz)

    def coefs(self) -> np.ndarray:
        """Coefficients of every band, shape (n_bands, 5)."""
        return np.stack([self._coef(k, g) for k, g in enumerate(self.applied_db())])

    def applied_db(self) -> np.ndarray:
        """Band gains in force: manual overrides where set, else the automatic ones."""
        return np.where(np.isnan(self.manual_db), self.gains_db, self.manual_db)

    def curve_db(self, freqs_hz: np.ndarray) -> np.ndarray:
        """Exact magnitude of the EQ in force on ``freqs_hz``, dB."""
        return biquad.response_db(self.coefs(), freqs_hz, self.sample_rate_hz)

    def wanted(self, response_db: np.ndarray, coherence: np.ndarray) -> np.ndarray:
        """Band gains that would best correct ``response_db`` (bounded, ignoring the rate)."""
        cfg = self.config
        trusted = self.in_range & (coherence >= cfg.min_coherence)
        if np.count_nonzero(trusted) < 3:
            return self.gains_db.copy()
        dev = response_db - self.target_db
        dev = dev - np.mean(dev[trusted])
        want = -dev
        trend = smooth_db(self.grid_hz, response_db, 1.0)
        self.nulls = response_db < trend - cfg.null_depth_db
        want[self.nulls] = np.minimum(want[self.nulls], 0.0)
        weight = np.where(trusted, 1.0, 0.05)  # untrusted bands: gently toward no correction
        want = np.where(trusted, want, 0.0)
        weight = weight * self.in_range
        a = self._basis * weight[:, None]
        upper = np.full(cfg.n_bands, cfg.max_boost_db)
        # a band centred in a null gets no boost either
        for k, fc in enumerate(self.band_freqs_hz):
            near = np.abs(np.log2(self.grid_hz / fc)) <= 1 / 6
            if np.any(self.nulls & near):
                upper[k] = 0.0
        res = lsq_linear(a, want * weight, bounds=(np.full(cfg.n_bands, -cfg.max_cut_db), upper))
        return np.clip(res.x, -cfg.max_cut_db, upper)

    def update(self, response_db: np.ndarray, coherence: np.ndarray, dt_s: float) -> np.ndarray:
        """Move the automatic gains toward the wanted ones; returns the change per band, dB."""
        if self.locked:
            return np.zeros_like(self.gains_db)
        self.wanted_db = self.wanted(response_db, coherence)
        step = self.config.max_rate_db_s * dt_s
        delta = np.clip(self.wanted_db - self.gains_db, -step, step)
        delta[self.frozen] = 0.0
        self.gains_db = self.gains_db + delta
        return delta
