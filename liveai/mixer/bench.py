"""``liveai bench mixer``: chain cost against scipy's sosfilt, estimator cost, the venue figures.

Timings are printed, never asserted (shared machines are noisy).
"""

from __future__ import annotations

import time

import numpy as np
from scipy import signal

from liveai.dsp import biquad
from liveai.dsp.chain import Chain
from liveai.mixer.config import MixerConfig
from liveai.mixer.estimator import RoomEstimator


def _eq(sr: int, n_bands: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.stack([biquad.design(biquad.PEAKING, 40.0 * 2 ** (0.55 * k), rng.uniform(-6, 6),
                                   1.4, sr) for k in range(n_bands)])


def _time_chain(block: int, seconds: float, sr: int, n_bands: int) -> tuple[float, float]:
    """Seconds per block for the liveai chain and for sosfilt with carried state (stereo)."""
    coefs = _eq(sr, n_bands)
    chain = Chain(sr, 2, n_bands=n_bands)
    chain.set_params(coefs=coefs[None].repeat(2, 0))
    chain.reset()
    n_blocks = max(int(seconds * sr / block), 50)
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((block * 64, 2)) * 0.2).astype(np.float32)
    out = np.empty((block, 2), dtype=np.float32)
    blocks = [np.ascontiguousarray(x[i * block:(i + 1) * block]) for i in range(64)]
    chain.process(blocks[0], out)  # warm
    t0 = time.perf_counter()
    for k in range(n_blocks):
        chain.process(blocks[k % 64], out)
    t_chain = (time.perf_counter() - t0) / n_blocks
    sos = np.stack([np.r_[c[:3], 1.0, c[3:]] for c in coefs])
    zi = np.zeros((n_bands, 2, 2))
    t0 = time.perf_counter()
    for k in range(n_blocks):
        _, zi = signal.sosfilt(sos, blocks[k % 64], axis=0, zi=zi)
    t_ref = (time.perf_counter() - t0) / n_blocks
    return t_chain, t_ref


def _time_estimator(seconds: float, sr: int) -> float:
    """Estimator seconds per second of programme (one core)."""
    est = RoomEstimator(sr, MixerConfig())
    rng = np.random.default_rng(3)
    n = int(seconds * sr)
    x = rng.standard_normal(n) * 0.1
    h = np.zeros(4000)
    h[3000] = 0.3
    mic = signal.oaconvolve(x, h)[:n] + rng.standard_normal(n) * 1e-3
    est.push(x[:sr], mic[:sr])  # warm the kernels
    t0 = time.perf_counter()
    for k in range(sr, n, 1024):
        est.push(x[k:k + 1024], mic[k:k + 1024])
    return (time.perf_counter() - t0) / (seconds - 1.0)


def _time_estimator_change(sr: int, change_s: float = 14.0, after_s: float = 11.0
                           ) -> tuple[float, int]:
    """Estimator seconds per second of programme over the ``after_s`` after a room change.

    A diffuse 1.6 s room becomes a 1.0 s room at ``change_s``: the crowd regression waits
    for frames of the new room while the exact fit bridges them (the costly part). Returns the
    share and how many fits ran.
    """
    est = RoomEstimator(sr, MixerConfig())
    rng = np.random.default_rng(5)
    n = int((change_s + after_s) * sr)
    x = signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal(n)) * 0.02
    rooms = []
    for rt60_s in (1.6, 1.0):
        t = np.arange(int(1.4 * rt60_s * sr)) / sr
        rooms.append(np.r_[np.zeros(int(0.05 * sr)),
                           rng.standard_normal(t.size) * np.exp(-6.9078 * t / rt60_s) * 0.05])
    c = int(change_s * sr)
    mic = np.r_[signal.oaconvolve(x, rooms[0])[:c], signal.oaconvolve(x, rooms[1])[c:n]]
    mic += rng.standard_normal(n) * 1e-3 * np.std(mic)
    est.push(x[:c], mic[:c])
    t0 = time.perf_counter()
    for k in range(c, n, 1024):
        est.push(x[k:k + 1024], mic[k:k + 1024])
    return (time.perf_counter() - t0) / after_s, est.crowd.bridge_fits


def _time_mixer(seconds: float, sr: int, block: int) -> float:
    """Whole AdaptiveMixer.process seconds per second of programme."""
    from liveai.mixer import AdaptiveMixer

    mixer = AdaptiveMixer(sr, block, 2)
    rng = np.random.default_rng(4)
    n = int(seconds * sr) // block * block
    x = (rng.standard_normal((n, 2)) * 0.1).astype(np.float32)
    mic = rng.standard_normal(n) * 0.01
    for k in range(0, sr, block):  # warm
        mixer.process(x[k:k + block], mic[k:k + block])
    t0 = time.perf_counter()
    for k in range(sr, n, block):
        mixer.process(x[k:k + block], mic[k:k + block])
    return (time.perf_counter() - t0) / ((n - sr) / sr)


def bench_mixer(seconds: float = 5.0, venue_s: float = 50.0, n_bands: int = 16,
                sample_rate_hz: int = 48000) -> list[str]:
    """Lines of the mixer benchmark report."""
    sr = sample_rate_hz
    lines = [f"chain: stereo, {n_bands} peaking bands + gain + look-ahead limiter + ceiling, "
             f"{sr} Hz; reference: scipy.signal.sosfilt ({n_bands} sections, state carried, "
             "EQ only)",
             f"{'block':>6} {'liveai us':>10} {'sosfilt us':>11} {'ratio':>6} "
             f"{'liveai % core':>14}"]
    for block in (32, 64, 128, 256, 512):
        t_chain, t_ref = _time_chain(block, seconds, sr, n_bands)
        period = block / sr
        lines.append(f"{block:>6} {1e6 * t_chain:10.1f} {1e6 * t_ref:11.1f} "
                     f"{t_ref / t_chain:5.1f}x {100 * t_chain / period:13.2f}%")
    est_core = _time_estimator(max(seconds, 20.0), sr)  # long enough for the crowd frames
    change_core, fits = _time_estimator_change(sr)
    whole = _time_mixer(max(seconds, 6.0), sr, 64)
    lines.append(f"estimator (1.5 s room model, {RoomEstimator(sr, MixerConfig()).frame}-sample "
                 f"hops, coherence, crowd regression, delay finder): {100 * est_core:.1f} % of "
                 "one core")
    lines.append(f"estimator over the 11 s after a room change (the exact fit of the new room, "
                 f"{fits} fits, bridging its frames): {100 * change_core:.1f} % of one core")
    lines.append(f"AdaptiveMixer.process, stereo, 64-frame blocks (chain + estimator + auto-EQ, "
                 f"in process): {100 * whole:.1f} % of one core")
    if venue_s > 0:
        from liveai.mixer import AdaptiveMixer, venue

        t0 = time.perf_counter()
        rooms, crowd = venue.make_rooms(venue.Hall(sample_rate_hz=sr))
        t_rooms = time.perf_counter() - t0
        mixer = AdaptiveMixer(sr, 1024, 2)
        t0 = time.perf_counter()
        change_s = 0.56 * venue_s
        run = venue.run_venue(mixer, rooms, crowd, duration_s=venue_s, change_s=change_s)
        t_run = time.perf_counter() - t0
        fig = venue.figures(run)
        lines += [
            f"venue: 30x20x10 m hall, mic 18 m from the PA, RT60 1.6 s -> 1.0 s at {change_s:.0f} "
            f"s, crowd -40 -> -15 dB re music; {venue_s:.0f} s simulated in {t_run:.1f} s "
            f"(rooms {t_rooms:.1f} s)",
            f"  response error (1/3 oct, 100 Hz-8 kHz, max): {fig['error_before_change_db']:.2f} "
            f"dB before the change, {fig['error_end_db']:.2f} dB at the end; within 1.5 dB "
            f"from {fig['converge_s']:.1f} s; re-converged {fig['reconverge_s']:.1f} s after "
            "the change",
            f"  flatness (std of 1/3-oct deviation): room {fig['flat_room_db']:.2f} dB -> with "
            f"EQ {fig['flat_eq_db']:.2f} dB (before the change); at the end "
            f"{fig['flat_room_end_db']:.2f} -> {fig['flat_eq_end_db']:.2f} dB",
            f"  crowd estimate from 15 s: max error {fig['crowd_err_db']:.1f} dB, mean "
            f"{fig['crowd_bias_db']:+.1f} dB; outside the 15 s after the change "
            f"{fig['crowd_err_settled_db']:.1f} dB; back within 2 dB "
            f"{fig['crowd_back_s']:.0f} s after the change; last 5 s max error "
            f"{np.max(np.abs(run.crowd_est_db[-5:] - run.crowd_true_db[-5:])):.1f} dB",
            f"  limits: bands {fig['min_band_db']:+.1f}..{fig['max_band_db']:+.1f} dB, gain up to "
            f"{fig['max_gain_db']:+.1f} dB, output vs programme never below "
            f"{fig['min_duck_db']:+.1f} dB, peak {20 * np.log10(fig['peak_out']):.2f} dBFS",
        ]
    return lines
