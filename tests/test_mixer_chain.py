"""The mixer chain kernel: band responses, block-size invariance, ceiling, click-free changes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from liveai.dsp import biquad
from liveai.dsp.chain import Chain

SR = 48000


def _impulse_response(coefs: np.ndarray, n: int = 16384) -> np.ndarray:
    chain = Chain(SR, 1, n_bands=coefs.shape[0], ceiling_db=40.0)
    chain.set_params(coefs=coefs[None])
    chain.reset()
    x = np.zeros((n, 1), dtype=np.float32)
    x[0, 0] = 1e-3
    y = chain.process(x)[:, 0].astype(np.float64) / 1e-3
    return y[chain.latency_samples:]


@pytest.mark.parametrize("kind,freq_hz,gain_db,q", [
    (biquad.PEAKING, 1000.0, 9.0, 2.0),
    (biquad.PEAKING, 120.0, -12.0, 4.0),
    (biquad.LOW_SHELF, 200.0, 6.0, 0.7071),
    (biquad.HIGH_SHELF, 6000.0, -8.0, 0.7071),
    (biquad.LOW_PASS, 2000.0, 0.0, 0.7071),
    (biquad.HIGH_PASS, 80.0, 0.0, 0.7071),
])
def test_band_magnitude_matches_analytic_biquad(kind, freq_hz, gain_db, q):
    coefs = np.tile(biquad.IDENTITY, (16, 1))
    coefs[5] = biquad.design(kind, freq_hz, gain_db, q, SR)
    h = _impulse_response(coefs)
    spec = np.fft.rfft(h)
    f = np.fft.rfftfreq(h.size, 1.0 / SR)
    measured_db = 20 * np.log10(np.maximum(np.abs(spec), 1e-12))
    b, a = coefs[5, :3], np.r_[1.0, coefs[5, 3:]]
    _, hz = signal.freqz(b, a, worN=f, fs=SR)
    ref_db = 20 * np.log10(np.maximum(np.abs(hz), 1e-12))
    ok = ref_db > -60
    assert np.max(np.abs(measured_db[ok] - ref_db[ok])) < 0.01
    assert np.allclose(biquad.response_db(coefs, f[1:], SR), ref_db[1:], atol=1e-6)
    # physical anchors of the cookbook formulas
    at = float(biquad.response_db(coefs[5], np.array([freq_hz]), SR)[0])
    if kind == biquad.PEAKING:
        assert at == pytest.approx(gain_db, abs=1e-6)
    elif kind in (biquad.LOW_PASS, biquad.HIGH_PASS):
        assert at == pytest.approx(-3.0103, abs=0.01)
    else:  # shelves: half the gain at the corner, the full gain far inside the shelf
        assert at == pytest.approx(gain_db / 2, abs=0.05)
        far = 10.0 if kind == biquad.LOW_SHELF else 23000.0
        assert biquad.response_db(coefs[5], np.array([far]), SR)[0] == pytest.approx(gain_db,
                                                                                     abs=0.1)


def _busy_chain(channels: int = 2) -> Chain:
    chain = Chain(SR, channels, n_bands=16, ceiling_db=-1.0)
    rng = np.random.default_rng(3)
    coefs = np.empty((channels, 16, 5))
    for c in range(channels):
        for b in range(16):
            coefs[c, b] = biquad.design(biquad.PEAKING, 40 * 2 ** (b * 0.6), rng.uniform(-9, 9),
                                        rng.uniform(0.5, 4), SR)
    chain.set_params(coefs=coefs, gains=np.array([2.0, 1.5])[:channels])
    chain.reset()
    return chain


def _run_blocks(chain: Chain, x: np.ndarray, sizes: list[int]) -> np.ndarray:
    out = np.empty_like(x)
    i = k = 0
    while i < x.shape[0]:
        n = sizes[k % len(sizes)]
        out[i:i + n] = chain.process(np.ascontiguousarray(x[i:i + n]))
        i += n
        k += 1
    return out


def test_block_size_invariance(rng):
    x = (rng.standard_normal((SR, 2)) * 0.3).astype(np.float32)
    x[20000:21000] *= 6  # a burst that drives the limiter hard
    results = [_run_blocks(_busy_chain(), x, sizes) for sizes in ([SR], [64], [37, 113], [1, 500])]
    assert _busy_chain().read_min_gain() == 1.0
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    chain = _busy_chain()
    chain.process(x)
    assert chain.read_min_gain() < 0.5  # the limiter really worked in this test


@pytest.mark.parametrize("channels, n_bands", [(2, 16), (3, 17)])
def test_settled_cascade_matches_sosfilt(rng, channels, n_bands):
    """Settled bands run two at a time as a wavefront (and a leftover band or channel alone):
    the cascade is still the cascade, per channel, whatever the block size."""
    coefs = np.empty((channels, n_bands, 5))
    for c in range(channels):
        for b in range(n_bands):
            coefs[c, b] = biquad.design(biquad.PEAKING, 40 * 2 ** (b * 0.55), rng.uniform(-9, 9),
                                        rng.uniform(0.5, 4), SR)
    chain = Chain(SR, channels, n_bands=n_bands, ceiling_db=40.0)
    chain.set_params(coefs=coefs)
    chain.reset()
    x = (rng.standard_normal((20000, channels)) * 0.1).astype(np.float32)
    y = _run_blocks(chain, x, [1, 64, 37, 513])
    lat = chain.latency_samples
    for c in range(channels):
        sos = np.stack([np.r_[k[:3], 1.0, k[3:]] for k in coefs[c]])
        ref = signal.sosfilt(sos, x[:, c].astype(np.float64))
        np.testing.assert_allclose(y[lat:, c], ref[:x.shape[0] - lat], atol=2e-6)


@pytest.mark.parametrize("sizes", [[512], [1, 29, 30, 31], [64, 37, 113], [4096]])
def test_vectorised_wavefront_is_the_band_by_band_cascade_bit_for_bit(rng, sizes):
    """Channels 0 and 1 (16 settled bands each) run as one vectorised wavefront of 32 lanes,
    channel 2 band by band: fed channel 0's input and coefficients, it must put out the same
    numbers, bit for bit, at any block size (the wavefront fills and drains in every block)."""
    chain = Chain(SR, 3, n_bands=16, ceiling_db=40.0)
    coefs = np.empty((3, 16, 5))
    for c in range(2):
        for b in range(16):
            coefs[c, b] = biquad.design(biquad.PEAKING, 40 * 2 ** (b * 0.6), rng.uniform(-9, 9),
                                        rng.uniform(0.5, 4), SR)
    coefs[2] = coefs[0]
    chain.set_params(coefs=coefs)
    chain.reset()
    x = (rng.standard_normal((6000, 3)) * 0.2).astype(np.float32)
    x[:, 2] = x[:, 0]
    y = _run_blocks(chain, x, sizes)
    assert np.any(y[:, 0] != y[:, 1])
    np.testing.assert_array_equal(y[:, 2], y[:, 0])
    np.testing.assert_array_equal(chain.zs[2], chain.zs[0])


def test_limiter_at_rest_after_a_gain_reduction_is_block_size_invariant(rng):
    """After a reduction the envelope releases to rest a hair under 1.0 (the release's step
    rounds to nothing) and stays there; quiet blocks then take the limiter's one-gain path,
    a block with the burst in it the per-sample loop: the output is the same either way."""
    x = (rng.standard_normal((SR, 2)) * 0.05).astype(np.float32)
    x[4000:4400] *= 60  # a burst the limiter takes down
    outs = []
    for sizes in ([SR], [64], [37, 113], [1, 500]):
        chain = Chain(SR, 2, n_bands=4, release_ms=5.0)
        outs.append(_run_blocks(chain, x, sizes))
    for y in outs[1:]:
        np.testing.assert_array_equal(y, outs[0])
    env = chain.lim[2 * chain.look]
    assert 1.0 - 1e-9 < env < 1.0  # at rest, and not exactly 1.0
    assert chain.read_min_gain() < 0.2


def _nasty_inputs(rng) -> dict[str, np.ndarray]:
    n = SR // 2
    t = np.arange(n) / SR
    sq = np.sign(np.sin(2 * np.pi * 97 * t))
    bad = rng.uniform(-1, 1, n)
    bad[::7] = np.nan
    bad[3::11] = np.inf
    bad[5::13] = -np.inf
    return {
        "full_scale_noise": rng.uniform(-1, 1, n),
        "hot_noise_+12dB": rng.standard_normal(n) * 4,
        "square_full_scale": sq,
        "square_low_50Hz": np.sign(np.sin(2 * np.pi * 50 * t)),
        "dc": np.ones(n),
        "dc_negative": -np.ones(n),
        "nan_inf": bad,
        "all_nan": np.full(n, np.nan),
        "impulses": np.where(np.arange(n) % 4800 == 0, 1.0, 0.0),
    }


@pytest.mark.parametrize("ceiling_db,bypass", [(-1.0, False), (-6.0, False), (0.0, False),
                                               (-1.0, True)])
def test_no_sample_above_ceiling(rng, ceiling_db, bypass):
    for name, sig in _nasty_inputs(rng).items():
        chain = Chain(SR, 2, n_bands=16, ceiling_db=ceiling_db)
        chain.set_params(bypass=bypass)
        coefs = np.tile(biquad.IDENTITY, (2, 16, 1))
        coefs[:, 0] = biquad.design(biquad.LOW_SHELF, 150, 12, 0.7, SR)  # +12 dB of bass
        coefs[:, 1] = biquad.design(biquad.PEAKING, 3000, 12, 1.0, SR)
        chain.set_params(coefs=coefs, gains=np.array([4.0, 4.0]))  # +12 dB more
        x = np.stack([sig, sig[::-1]], axis=1).astype(np.float32)
        y = _run_blocks(chain, x, [64, 37, 113])
        ceiling = np.float32(10 ** (ceiling_db / 20))
        assert np.all(np.isfinite(y)), name
        assert np.max(np.abs(y)) <= ceiling, name
        if name == "nan_inf":
            assert chain.counts[0] == np.count_nonzero(~np.isfinite(x))


def test_nan_never_poisons_the_state(rng):
    chain = Chain(SR, 1, n_bands=16)
    x = (rng.standard_normal((4800, 1)) * 0.1).astype(np.float32)
    x[100] = np.nan
    chain.process(x)
    y = chain.process((rng.standard_normal((4800, 1)) * 0.1).astype(np.float32))
    assert np.all(np.isfinite(y)) and np.std(y) > 0.05


def _sweep(smoothing_ms: float) -> tuple[np.ndarray, float]:
    """1 kHz sine at 0.1 through a peaking band swept +-12 dB and 500 Hz-2 kHz every 64 samples."""
    chain = Chain(SR, 1, n_bands=16, ceiling_db=0.0, smoothing_ms=smoothing_ms)
    n_blocks = 600
    amp = 0.1
    x = (amp * np.sin(2 * np.pi * 1000 * np.arange(64 * n_blocks) / SR)).astype(np.float32)
    out = np.empty_like(x)
    coefs = np.tile(biquad.IDENTITY, (1, 16, 1))
    for k in range(n_blocks):
        gain_db = 12.0 if (k // 20) % 2 == 0 else -12.0  # a jump every 20 blocks
        freq_hz = 500 * 4 ** ((k % 37) / 36)
        coefs[0, 3] = biquad.design(biquad.PEAKING, freq_hz, gain_db, 1.4, SR)
        chain.set_params(coefs=coefs, gains=np.array([1.0 if k % 50 < 25 else 2.0]))
        out[64 * k:64 * (k + 1)] = chain.process(x[64 * k:64 * (k + 1), None])[:, 0]
    # the largest first difference a 1 kHz sine may have at the largest gain reached (+18 dB)
    bound = 2 * np.sin(np.pi * 1000 / SR) * amp * 10 ** (18 / 20)
    return np.abs(np.diff(out[2000:])), bound


def test_parameter_sweep_discontinuity_is_bounded():
    """Stated bound: the output's first difference never exceeds 1.1x the largest first difference
    of a clean 1 kHz sine at the highest gain the sweep reaches (+12 dB band, +6 dB gain)."""
    diffs, bound = _sweep(smoothing_ms=20.0)
    assert diffs.max() <= 1.1 * bound
    # the same sweep without the glide jumps far past it: the bound is a real one
    diffs_raw, _ = _sweep(smoothing_ms=1e-6)
    assert diffs_raw.max() > 1.5 * bound


def test_bypass_crossfades(rng):
    chain = Chain(SR, 1, n_bands=16, ceiling_db=0.0)
    coefs = np.tile(biquad.IDENTITY, (1, 16, 1))
    coefs[0, 0] = biquad.design(biquad.PEAKING, 1000, 12, 1.0, SR)
    chain.set_params(coefs=coefs)
    chain.reset()
    x = (0.1 * np.sin(2 * np.pi * 1000 * np.arange(SR) / SR)).astype(np.float32)[:, None]
    out = np.empty_like(x)
    for k in range(0, SR, 256):
        if k == 12800:
            chain.set_params(bypass=True)
        out[k:k + 256] = chain.process(x[k:k + 256])
    d = np.abs(np.diff(out[2000:, 0]))
    assert d.max() <= 1.05 * 2 * np.sin(np.pi * 1000 / SR) * 0.1 * 10 ** (12 / 20)
    lat = chain.latency_samples
    # fully bypassed: the dry signal, delayed by the look-ahead
    np.testing.assert_allclose(out[-1000:, 0], x[-1000 - lat:SR - lat, 0], atol=1e-6)
