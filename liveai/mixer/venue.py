"""A simulated venue for the adaptive mixer: hall, PA, room mic and a growing crowd.

The hall's impulse responses come from pyroomacoustics: a shoebox whose wall absorption
``pyroomacoustics.inverse_sabine`` derives from the wanted RT60, with image sources up to a
moderate order for the direct sound and early reflections, and a statistical late tail
(octave-band noise decaying at each band's RT60, the usual hybrid of ISM and a diffuse tail). The
tail's energy follows the diffuse-field level of Sabine's theory, ``16 pi r^2 (1 - a) / (S a)``
times the direct sound, so a mic 15-20 m from the PA hears mostly reverb, as in a real hall. The
loudspeaker adds its own colour (a few resonances and its low-frequency roll-off).

:class:`VenueSim` runs programme → mixer → room → mic + crowd → mixer, block by block; the room
is a uniformly partitioned convolution, and each mic block only needs PA blocks already played
(the PA-to-mic delay exceeds one block).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import signal

from liveai.dsp import biquad
from liveai.dsp.fdaf import fdaf_filter
from liveai.dsp.octave import band_matrix

OCTAVES_HZ = np.array([63.0, 125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0])
#: RT60 of each octave relative to the nominal (mid-band) RT60: longer in the bass, air and
#: audience absorb the top.
RT_SHAPE = np.array([1.3, 1.2, 1.1, 1.0, 1.0, 0.95, 0.85, 0.7, 0.5])


@dataclasses.dataclass(frozen=True)
class Hall:
    """Geometry of the simulated hall (metres)."""

    dims_m: tuple[float, float, float] = (30.0, 20.0, 10.0)
    pa_m: tuple[float, float, float] = (2.0, 10.0, 4.0)
    mic_m: tuple[float, float, float] = (20.0, 11.0, 1.8)
    crowd_m: tuple[tuple[float, float, float], ...] = (
        (8.0, 5.0, 1.6), (12.0, 14.0, 1.6), (16.0, 8.0, 1.6), (22.0, 15.0, 1.6), (25.0, 6.0, 1.6))
    sample_rate_hz: int = 48000


def speaker_sos(sample_rate_hz: int) -> list[np.ndarray]:
    """The PA's own colour: roll-off below 60 Hz, a box resonance, a crossover dip, a horn peak."""
    sr = sample_rate_hz
    return [biquad.design(biquad.HIGH_PASS, 60.0, 0.0, 0.7071, sr),
            biquad.design(biquad.PEAKING, 180.0, 4.0, 1.5, sr),
            biquad.design(biquad.PEAKING, 700.0, -3.0, 1.2, sr),
            biquad.design(biquad.PEAKING, 2500.0, -4.0, 2.0, sr),
            biquad.design(biquad.PEAKING, 5000.0, 3.0, 2.5, sr),
            biquad.design(biquad.LOW_PASS, 16000.0, 0.0, 0.7071, sr)]


def hall_rir(hall: Hall, source_m, rt60_s: float, seed: int, speaker: bool = True,
             ism_order: int = 2) -> np.ndarray:
    """Impulse response from ``source_m`` to the mic at nominal ``rt60_s``.

    Returns
    -------
    np.ndarray, shape (n,), float64
    """
    import pyroomacoustics as pra

    sr = hall.sample_rate_hz
    absorption, _ = pra.inverse_sabine(rt60_s, list(hall.dims_m))
    room = pra.ShoeBox(list(hall.dims_m), fs=sr, materials=pra.Material(absorption),
                       max_order=ism_order, air_absorption=False)
    room.add_source(list(source_m))
    room.add_microphone(list(hall.mic_m))
    room.compute_rir()
    early = np.asarray(room.rir[0][0], dtype=np.float64)
    dist = float(np.linalg.norm(np.subtract(source_m, hall.mic_m)))
    n0 = int(np.argmax(np.abs(early)))  # the direct sound (pyroomacoustics adds its filter delay)
    # diffuse tail, per octave band, energy after Sabine's diffuse field
    lx, ly, lz = hall.dims_m
    area = 2 * (lx * ly + lx * lz + ly * lz)
    a = absorption
    direct_energy = (1.0 / dist) ** 2  # pyroomacoustics' direct sound has amplitude 1 / r
    rev_energy = direct_energy * 16 * math.pi * dist ** 2 * (1 - a) / (area * a)
    rts = rt60_s * RT_SHAPE
    n = n0 + int(1.15 * rts.max() * sr)
    rng = np.random.default_rng(seed)
    t = np.arange(n - n0) / sr
    tail = np.zeros(n - n0)
    for fc, rt in zip(OCTAVES_HZ, rts, strict=True):
        hi = min(fc * math.sqrt(2), 0.45 * sr)
        sos = signal.butter(4, [fc / math.sqrt(2), hi], btype="bandpass", fs=sr, output="sos")
        band = signal.sosfiltfilt(sos, rng.standard_normal(n - n0))
        tail += band * np.exp(-6.9078 * t / rt)  # 60 dB over rt
    fade = np.minimum(t / 0.03, 1.0)  # the tail builds up over the first 30 ms
    tail *= fade
    early_energy = float(np.sum(early[n0 + 60:] ** 2)) if early.size > n0 + 60 else 0.0
    want = max(rev_energy - early_energy, 0.5 * rev_energy)
    tail *= math.sqrt(want / float(np.sum(tail ** 2)))
    h = np.zeros(n)
    m = min(early.size, n)
    h[:m] = early[:m]
    h[n0:] += tail
    h[:max(n0 - 100, 0)] = 0.0  # nothing arrives before the direct sound (ISM filter leakage)
    if speaker:
        h = signal.sosfilt(np.stack([np.r_[c[:3], 1.0, c[3:]] for c in speaker_sos(sr)]), h)
    return h


def third_octave_db(h: np.ndarray, freqs_hz: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """⅓-octave power-averaged magnitude of an impulse response, dB."""
    nfft = 1 << int(math.ceil(math.log2(h.size)))
    spec = np.fft.rfft(h, nfft)
    f = np.fft.rfftfreq(nfft, 1.0 / sample_rate_hz)
    p = band_matrix(f, freqs_hz) @ (spec.real ** 2 + spec.imag ** 2)
    return 10 * np.log10(np.maximum(p, 1e-20))


def crowd_babble(n: int, sample_rate_hz: int, seed: int) -> np.ndarray:
    """Crowd-like noise: speech-band noise with a random syllable-rate amplitude envelope."""
    rng = np.random.default_rng(seed)
    sos = signal.butter(2, [150.0, 4000.0], btype="bandpass", fs=sample_rate_hz, output="sos")
    x = signal.sosfilt(sos, rng.standard_normal(n))
    env_rate = 50  # envelope points per second
    pts = rng.standard_normal(n * env_rate // sample_rate_hz + 4)
    pts = signal.lfilter([0.3], [1.0, -0.7], pts)
    env = np.interp(np.arange(n) / sample_rate_hz * env_rate, np.arange(pts.size), pts)
    x *= np.exp(0.5 * env)
    return x / np.sqrt(np.mean(x ** 2))


class RoomConvolver:
    """Uniformly partitioned convolution whose next block only needs the blocks already played.

    Parameters
    ----------
    h : np.ndarray, shape (n,)
        Impulse response; its first ``block`` taps must be zero (the acoustic delay).
    block : int
    """

    def __init__(self, h: np.ndarray, block: int) -> None:
        self.block = int(block)
        self.parts = int(math.ceil(h.size / block))
        self.fdl = np.zeros((self.parts, block + 1), dtype=np.complex128)
        self.head = 0
        self._prev = np.zeros(block)
        self._y = np.zeros(block + 1, dtype=np.complex128)
        self._norm = np.zeros(block + 1)
        self._ones = np.ones(self.parts - 1)
        self.set_ir(h)

    def set_ir(self, h: np.ndarray) -> None:
        """Swap the room (e.g. the audience fills the floor); the sound in flight follows it."""
        b = self.block
        if np.max(np.abs(h[:b])) > 0:
            raise ValueError("the impulse response must start later than one block")
        hp = np.zeros(self.parts * b)
        hp[:min(h.size, hp.size)] = h[:hp.size]
        self._h = np.fft.rfft(hp.reshape(self.parts, b), 2 * b, axis=1)[1:].copy()

    def next_block(self) -> np.ndarray:
        """The room's output over the next block, from the blocks pushed so far."""
        fdaf_filter(self.fdl, self.head, 0, self._h, self._ones, self._y, self._norm)
        return np.fft.irfft(self._y, 2 * self.block)[self.block:]

    def push(self, x: np.ndarray) -> None:
        """The block the PA just played."""
        self.head = (self.head + 1) % self.parts
        self.fdl[self.head] = np.fft.rfft(np.concatenate([self._prev, x]))
        self._prev = np.asarray(x, dtype=np.float64).copy()


@dataclasses.dataclass
class VenueRun:
    """What a simulated show measured, sampled once per ``report_s``."""

    times_s: np.ndarray
    freqs_hz: np.ndarray
    true_db: list  # ⅓-octave response of the room in force at each report
    response_db: list  # the mixer's estimates
    coherence: list
    eq_db: list
    crowd_true_db: np.ndarray
    crowd_est_db: np.ndarray
    gain_db: np.ndarray
    band_gains_db: list
    duck_db: np.ndarray  # output level minus programme level per report interval
    peak_out: float
    change_s: float
    rooms: tuple


def music(n: int, sample_rate_hz: int, channels: int, seed: int = 5) -> np.ndarray:
    """Programme for the simulation: the demo groove plus pink-ish noise 10 dB under it."""
    from liveai.audio.demo import DemoGroove

    g = DemoGroove(sample_rate_hz, channels=2, seed=seed).read(n).astype(np.float64)
    rng = np.random.default_rng(seed + 1)
    w = rng.standard_normal((n, 2))
    pink = signal.lfilter([0.049922035, -0.095993537, 0.050612699, -0.004408786],
                          [1, -2.494956002, 2.017265875, -0.522189400], w, axis=0)
    pink *= np.sqrt(np.mean(g ** 2) / np.mean(pink ** 2)) * 10 ** (-10 / 20)
    x = g + pink
    if channels == 1:
        x = x.mean(axis=1, keepdims=True)
    return x.astype(np.float32)


def run_venue(mixer, rooms: tuple[np.ndarray, np.ndarray], crowd_rirs: list[np.ndarray],
              duration_s: float = 50.0, change_s: float = 28.0, crowd_start_db: float = -40.0,
              crowd_end_db: float = -15.0, block: int = 1024, report_s: float = 1.0,
              seed: int = 11, program: np.ndarray | None = None) -> VenueRun:
    """Play a show through ``mixer``: the room changes from ``rooms[0]`` to ``rooms[1]``.

    The change comes at ``change_s``; the crowd grows from ``crowd_start_db`` to ``crowd_end_db``
    relative to the music at the mic (before any crowd compensation).
    """
    sr = mixer.sample_rate_hz
    n = int(duration_s * sr) // block * block
    x = music(n, sr, mixer.channels, seed) if program is None else program[:n]
    conv = RoomConvolver(rooms[0], block)
    # music level at the mic with the mixer flat: programme power times the room's energy
    music_mic_db = 10 * np.log10(np.mean(x.astype(np.float64).mean(axis=1) ** 2)
                                 * np.sum(rooms[0] ** 2))
    crowd = np.zeros(n)
    for k, h in enumerate(crowd_rirs):
        crowd += signal.oaconvolve(crowd_babble(n, sr, seed + 100 + k), h)[:n]
    crowd /= np.sqrt(np.mean(crowd ** 2))
    ramp_db = crowd_start_db + (crowd_end_db - crowd_start_db) * np.arange(n) / n
    crowd *= 10 ** ((music_mic_db + ramp_db) / 20)
    hop = mixer.estimator.frame
    avg_a = 1 - math.exp(-hop / sr / mixer.config.average_s)
    per_report = int(round(report_s * sr / block))
    freqs = mixer.estimator.freqs_hz
    truth = [third_octave_db(h, freqs, sr) for h in rooms]
    run = VenueRun(times_s=[], freqs_hz=freqs, true_db=[], response_db=[], coherence=[],
                   eq_db=[], crowd_true_db=[], crowd_est_db=[], gain_db=[], band_gains_db=[],
                   duck_db=[], peak_out=0.0, change_s=change_s, rooms=rooms)
    crowd_ema = 0.0
    acc_in = acc_out = 0.0
    changed = False
    out = np.empty((block, mixer.channels), dtype=np.float32)
    for k in range(n // block):
        t = k * block / sr
        if not changed and t >= change_s:
            conv.set_ir(rooms[1])
            changed = True
        sl = slice(k * block, (k + 1) * block)
        c = crowd[sl]
        mic = conv.next_block() + c
        prog = x[sl] if mixer.channels > 1 else x[sl, 0]
        y = mixer.process(prog, mic)
        out[:] = y.reshape(block, -1)
        conv.push(out.astype(np.float64).mean(axis=1))
        run.peak_out = max(run.peak_out, float(np.max(np.abs(out))))
        acc_in += float(np.sum(x[sl].astype(np.float64) ** 2))
        acc_out += float(np.sum(out.astype(np.float64) ** 2))
        # the true crowd level, averaged the way the mixer averages (per hop, exponential)
        for j in range(0, block, hop):
            crowd_ema += avg_a * (float(np.mean(c[j:j + hop] ** 2)) - crowd_ema)
        if (k + 1) % per_report == 0:
            rep = mixer.report()
            run.times_s.append((k + 1) * block / sr)
            run.true_db.append(truth[1 if changed else 0])
            run.response_db.append(rep["response_db"])
            run.coherence.append(rep["coherence"])
            run.eq_db.append(rep["eq_db"])
            run.crowd_true_db.append(10 * np.log10(max(crowd_ema, 1e-20)))
            run.crowd_est_db.append(rep["crowd_level_db"])
            run.gain_db.append(rep["gain_db"])
            run.band_gains_db.append(rep["band_gains_db"])
            run.duck_db.append(10 * np.log10(max(acc_out, 1e-20) / max(acc_in, 1e-20)))
            acc_in = acc_out = 0.0
    for name in ("times_s", "crowd_true_db", "crowd_est_db", "gain_db", "duck_db"):
        setattr(run, name, np.asarray(getattr(run, name)))
    return run


def make_rooms(hall: Hall, rt60_empty_s: float = 1.6, rt60_full_s: float = 1.0, seed: int = 1
               ) -> tuple[tuple[np.ndarray, np.ndarray], list[np.ndarray]]:
    """The PA-to-mic responses of the empty and the full hall, and the crowd-to-mic responses."""
    rooms = (hall_rir(hall, hall.pa_m, rt60_empty_s, seed),
             hall_rir(hall, hall.pa_m, rt60_full_s, seed + 1))
    crowd = [hall_rir(hall, pos, rt60_full_s, seed + 10 + k, speaker=False)
             for k, pos in enumerate(hall.crowd_m)]
    return rooms, crowd


def figures(run: VenueRun, lo_hz: float = 100.0, hi_hz: float = 8000.0,
            settle_s: float = 15.0, crowd_settle_s: float = 15.0,
            crowd_reconverge_s: float = 15.0, crowd_tol_db: float = 2.0) -> dict[str, float]:
    """The numbers the venue test and the benchmark quote.

    ``crowd_err_db`` is the crowd estimate's largest error from ``settle_s`` on;
    ``crowd_err_settled_db`` the same from ``crowd_settle_s`` on, outside the
    ``crowd_reconverge_s`` after the room changes (where a new room is still being measured);
    ``crowd_back_s`` is how long after the change the estimate is back within ``crowd_tol_db``
    of the truth for good.
    """
    f = run.freqs_hz
    sel = (f >= lo_hz / 2 ** (1 / 6)) & (f <= hi_hz * 2 ** (1 / 6))
    t = run.times_s

    def err(i):
        return float(np.max(np.abs(run.response_db[i][sel] - run.true_db[i][sel])))

    def flat(i, with_eq):
        d = run.true_db[i][sel] + (run.eq_db[i][sel] if with_eq else 0.0)
        return float(np.std(d - np.mean(d)))

    before = int(np.searchsorted(t, run.change_s)) - 1
    errs = np.array([err(i) for i in range(t.size)])
    after = np.nonzero(t > run.change_s)[0]
    reconv = next((t[i] - run.change_s for i in after
                   if np.all(errs[i:after[-1] + 1] <= 1.5)), float("inf"))
    first = next((t[i] for i in range(before + 1) if np.all(errs[i:before + 1] <= 1.5)),
                 float("inf"))
    crowd_err = np.abs(run.crowd_est_db - run.crowd_true_db)
    crowd_back = next((t[i] - run.change_s for i in after
                       if np.all(crowd_err[i:] <= crowd_tol_db)), float("inf"))
    ok = t >= settle_s
    settled = (t >= crowd_settle_s) & ~((t >= run.change_s)
                                        & (t < run.change_s + crowd_reconverge_s))
    return {
        "error_before_change_db": errs[before],
        "error_end_db": errs[-1],
        "converge_s": first,
        "reconverge_s": reconv,
        "flat_room_db": flat(before, False),
        "flat_eq_db": flat(before, True),
        "flat_room_end_db": flat(t.size - 1, False),
        "flat_eq_end_db": flat(t.size - 1, True),
        "crowd_err_db": float(np.max(np.abs(run.crowd_est_db[ok] - run.crowd_true_db[ok]))),
        "crowd_bias_db": float(np.mean(run.crowd_est_db[ok] - run.crowd_true_db[ok])),
        "crowd_err_settled_db": float(np.max(np.abs(run.crowd_est_db[settled]
                                                    - run.crowd_true_db[settled]))),
        "crowd_back_s": crowd_back,
        "min_duck_db": float(np.min(run.duck_db)),
        "max_gain_db": float(np.max(run.gain_db)),
        "max_band_db": float(np.max(run.band_gains_db)),
        "min_band_db": float(np.min(run.band_gains_db)),
        "peak_out": run.peak_out,
    }
