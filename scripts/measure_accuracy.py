"""Accuracy of the soundcheck DSP (``liveai.mixer.measure``) on rooms with known answers.

Run: ``.venv/bin/python scripts/measure_accuracy.py`` (about 10 s). For each case: the delay
error (samples), the RT60 error per octave band (% of the designed value; pyroomacoustics'
``measure_rt60`` T30 on the same octave-filtered response beside it for the halls), and the
largest ⅓-octave response error 31.5 Hz-16 kHz (dB; "shape": with the mean offset taken out).
"""

from __future__ import annotations

import numpy as np
from pyroomacoustics.experimental import measure_rt60
from scipy import signal

from liveai.mixer import measure as m
from liveai.mixer.venue import RT_SHAPE, Hall, hall_rir

SR = 48000
BANDS = (125, 250, 500, 1000, 2000, 4000, 8000)


def synthetic(rng, rts: dict, delay: int = 2400) -> np.ndarray:
    """A direct sound (gain 0.5) plus octave-band noise decaying at ``rts`` (band Hz -> s)."""
    n = int(1.5 * SR)
    t = np.arange(n) / SR
    h = np.zeros(n)
    h[delay] = 0.5
    tail = np.zeros(n)
    for fc, rt in rts.items():
        tail += signal.sosfilt(m._octave_sos(fc, SR), rng.standard_normal(n)) * np.exp(
            -6.9078 * t / rt)
    tail[:delay + int(0.003 * SR)] = 0.0
    return h + 0.02 * tail


def soft_clip(x: np.ndarray, drive: float = 3.0) -> np.ndarray:
    """A loudspeaker pushed too hard: tanh, 8x oversampled (no aliasing)."""
    up = signal.resample_poly(x, 8, 1)
    return signal.resample_poly(np.tanh(drive * up) / drive, 1, 8)[:x.size]


def run(name, h, want_rt, rng, sweep_s=3.0, level=0.25, noise=1e-5, distort=False, pra=False):
    """Sweep through ``h`` (+ noise), measure, print the errors against the known answers."""
    sweep = m.make_sweep(SR, sweep_s)
    x = sweep * level
    if distort:
        x = soft_clip(x)
    y = signal.fftconvolve(x, h)[:sweep.size + 2 * SR]
    y += noise * rng.standard_normal(y.size)
    prof, ir = m.profile(y, sweep, SR, level_db=20 * np.log10(level))
    d_err = prof.delay_samples - m.arrival_samples(h)
    f, want_db = m.response_db(h, SR)
    sel = (f >= 31) & (f <= 16000)
    diff = np.asarray(prof.response_db)[sel] - want_db[sel]
    r_err = float(np.max(np.abs(diff)))
    shape = float(np.max(np.abs(diff - np.mean(diff))))  # a level offset taken out
    rt = [prof.rt60_s[f"{b:g}"] for b in BANDS]
    errs = ["  n/a" if v is None else f"{100 * (v / w - 1):+5.1f}" for v, w in zip(rt, want_rt,
                                                                                     strict=True)]
    print(f"{name:<34} delay {d_err:+d} smp  response max {r_err:4.2f} dB (shape {shape:4.2f})  "
          f"SNR-in "
          f"{20 * np.log10(np.std(y[:sweep.size]) / noise):4.0f} dB")
    print(f"{'':<34} RT60 error % (125..8k): {' '.join(errs)}")
    if pra:
        start = max(prof.delay_samples - 96, 0)
        ref = []
        for b, w in zip(BANDS, want_rt, strict=True):
            yb = signal.sosfilt(m._octave_sos(b, SR), ir[start:start + int(1.5 * SR)])
            ref.append(f"{100 * (measure_rt60(yb, fs=SR, decay_db=30) / w - 1):+5.1f}")
        print(f"{'':<34} pyroomacoustics T30 %:  {' '.join(ref)}")


def main() -> None:
    """Every case, one after the other."""
    rng = np.random.default_rng(20261125)
    design = dict(zip(BANDS, (0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4), strict=True))
    h = synthetic(rng, design)
    want = list(design.values())
    print("synthetic room: 50 ms delay, RT60 0.9 s (125 Hz) .. 0.4 s (8 kHz), sweep 3 s")
    run("  clean", h, want, rng)
    run("  tanh distortion (THD ~ -28 dB)", h, want, rng, distort=True)
    run("  noisy (1e-3 noise)", h, want, rng, noise=1e-3)
    run("  very noisy (1e-2 noise)", h, want, rng, noise=1e-2)
    hall = Hall()
    for rt in (1.0, 1.6):
        h = hall_rir(hall, hall.pa_m, rt, seed=3)
        print(f"venue hall 30x20x10 m, mic {np.linalg.norm(np.subtract(hall.pa_m, hall.mic_m)):.1f}"
              f" m from the PA, RT60 {rt} s x RT_SHAPE, sweep 6 s")
        run("  clean", h, list(rt * RT_SHAPE[1:8]), rng, sweep_s=6.0, noise=1e-6, pra=True)


if __name__ == "__main__":
    main()
