"""Soundcheck DSP: exponential sine sweep in; impulse response, RT60 and response out.

Pure functions, no audio I/O (see :mod:`liveai.mixer.soundcheck` for playing and recording):

- :func:`make_sweep`: Farina's exponential sine sweep with a fade-in and fade-out;
- :func:`inverse_filter`: its inverse (time-reversed sweep with a -6 dB/octave envelope), so that
  ``sweep * inverse`` is a band-limited impulse of unit gain;
- :func:`impulse_response`: the recording deconvolved with the inverse filter. Harmonic
  distortion products of order ``k`` land ``L ln k`` seconds *before* the linear response
  (``L = T / ln(f_hi / f_lo)``), so keeping the causal part separates them;
- :func:`arrival_samples`: the arrival of the direct sound;
- :func:`rt60_bands`: reverberation time per octave band from Schroeder's backward integral (T20,
  T30), with the noise floor estimated from the end of the response and subtracted;
- :func:`response_db`: ⅓-octave magnitude on the live estimator's band centres;
- :func:`profile`: all of the above as one :class:`RoomProfile` (saved as JSON, loaded by
  :func:`load_profile`, used to seed :meth:`liveai.mixer.AdaptiveMixer.load_profile`).
"""

from __future__ import annotations

import datetime
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal

from liveai.dsp.octave import band_centers_hz, band_matrix
from liveai.errors import LiveAIError

log = logging.getLogger(__name__)

#: Octave bands of the RT60 table, Hz.
OCTAVE_BANDS_HZ = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
PROFILE_VERSION = 1


class ProfileError(LiveAIError):
    """A room profile file is missing, unreadable or malformed."""


def response_freqs_hz(sample_rate_hz: int) -> np.ndarray:
    """⅓-octave centres the profile's response uses: the live room estimator's own.

    Returns
    -------
    np.ndarray, shape (n_bands,), Hz
    """
    return band_centers_hz(25.0, min(16000.0, 0.42 * sample_rate_hz))


def sweep_rate_s(duration_s: float, f_lo_hz: float, f_hi_hz: float) -> float:
    """Farina's ``L = T / ln(f_hi / f_lo)``, seconds per neper of frequency."""
    return duration_s / math.log(f_hi_hz / f_lo_hz)


def make_sweep(sample_rate_hz: int, duration_s: float, f_lo_hz: float = 20.0,
               f_hi_hz: float = 20000.0, fade_in_s: float = 0.05,
               fade_out_s: float = 0.01) -> np.ndarray:
    """Exponential sine sweep, peak 1.0, with half-Hann fades.

    Parameters
    ----------
    sample_rate_hz : int
    duration_s : float
        Length of the sweep, seconds.
    f_lo_hz, f_hi_hz : float
        Start and end frequency; ``f_hi_hz`` is capped at 0.45 × the sample rate.
    fade_in_s, fade_out_s : float
        Half-Hann fades, seconds (they keep the loudspeaker from a click).

    Returns
    -------
    np.ndarray, shape (round(duration_s * sample_rate_hz),), float64, full scale 1.0
    """
    f_hi_hz = min(f_hi_hz, 0.45 * sample_rate_hz)
    if not 0 < f_lo_hz < f_hi_hz:
        raise ValueError(f"sweep {f_lo_hz} -> {f_hi_hz} Hz: needs 0 < f_lo < f_hi")
    n = int(round(duration_s * sample_rate_hz))
    t = np.arange(n) / sample_rate_hz
    rate_s = sweep_rate_s(duration_s, f_lo_hz, f_hi_hz)
    x = np.sin(2.0 * np.pi * f_lo_hz * rate_s * (np.exp(t / rate_s) - 1.0))
    for length_s, head in ((fade_in_s, True), (fade_out_s, False)):
        m = min(int(length_s * sample_rate_hz), n // 2)
        if m > 0:
            ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(m) / m)
            if head:
                x[:m] *= ramp
            else:
                x[n - m:] *= ramp[::-1]
    return x


def inverse_filter(sweep: np.ndarray, sample_rate_hz: int, f_lo_hz: float = 20.0,
                   f_hi_hz: float = 20000.0) -> np.ndarray:
    """Farina's inverse of :func:`make_sweep`: time-reversed, −6 dB/octave, unit gain.

    The sweep's energy per Hz falls as ``1/f``; the envelope ``exp(-t / L)`` on the reversed sweep
    makes ``sweep * inverse`` flat. Its gain is set to 1 at the geometric centre of the sweep.

    Parameters
    ----------
    sweep : np.ndarray, shape (n,)
        The sweep as made by :func:`make_sweep` with the same frequencies.
    sample_rate_hz : int
    f_lo_hz, f_hi_hz : float

    Returns
    -------
    np.ndarray, shape (n,), float64
    """
    f_hi_hz = min(f_hi_hz, 0.45 * sample_rate_hz)
    n = sweep.size
    t = np.arange(n) / sample_rate_hz
    rate_s = sweep_rate_s(n / sample_rate_hz, f_lo_hz, f_hi_hz)
    inv = sweep[::-1] * np.exp(-t / rate_s)
    nfft = 1 << int(math.ceil(math.log2(2 * n)))
    g = np.abs(np.fft.rfft(sweep, nfft) * np.fft.rfft(inv, nfft))
    f = np.fft.rfftfreq(nfft, 1.0 / sample_rate_hz)
    centre = math.sqrt(f_lo_hz * f_hi_hz)
    sel = (f > centre / 2 ** 0.5) & (f < centre * 2 ** 0.5)
    return inv / float(np.mean(g[sel]))


def _fftconvolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return signal.fftconvolve(a, b, mode="full")


def impulse_response(recording: np.ndarray, sweep: np.ndarray, inverse: np.ndarray,
                     length_samples: int | None = None) -> np.ndarray:
    """Deconvolve a recording of ``sweep`` into the linear impulse response.

    Parameters
    ----------
    recording : np.ndarray, shape (m,)
        The mic, sample 0 aligned with the first sample of the sweep sent out.
    sweep, inverse : np.ndarray, shape (n,)
        From :func:`make_sweep` and :func:`inverse_filter`.
    length_samples : int, optional
        Length of the response kept (default: whatever the recording allows, ``m - n + 1``).

    Returns
    -------
    np.ndarray, shape (length_samples,), float64
        Lag 0 = the first sample of the sweep. The harmonic distortion products, which arrive
        before lag 0, are cut away.
    """
    n = sweep.size
    full = _fftconvolve(np.asarray(recording, dtype=np.float64), inverse)
    start = n - 1  # where sweep * inverse peaks for a zero-delay path
    avail = max(full.size - start - (n - 1), 1)  # beyond that the sweep's end is missing
    length = avail if length_samples is None else int(length_samples)
    out = np.zeros(length)
    take = min(length, full.size - start)
    out[:take] = full[start:start + take]
    return out


def harmonic_ir(recording: np.ndarray, sweep: np.ndarray, inverse: np.ndarray, order: int,
                sample_rate_hz: int, f_lo_hz: float = 20.0, f_hi_hz: float = 20000.0,
                length_samples: int = 4096) -> np.ndarray:
    """The impulse response of the ``order``-th harmonic, which lands ``L ln(order)`` early.

    Returns
    -------
    np.ndarray, shape (length_samples,), float64
    """
    f_hi_hz = min(f_hi_hz, 0.45 * sample_rate_hz)
    n = sweep.size
    full = _fftconvolve(np.asarray(recording, dtype=np.float64), inverse)
    shift = int(round(sweep_rate_s(n / sample_rate_hz, f_lo_hz, f_hi_hz) * math.log(order)
                      * sample_rate_hz))
    start = n - 1 - shift
    return full[start:start + length_samples].copy()


def arrival_samples(ir: np.ndarray, threshold_db: float = -6.0) -> int:
    """Arrival of the direct sound: the first peak of ``|ir|`` within ``threshold_db`` of the max.

    Parameters
    ----------
    ir : np.ndarray, shape (n,)
    threshold_db : float
        How far below the largest peak the direct sound may be (a strong reflection can beat it).

    Returns
    -------
    int, samples from lag 0
    """
    a = np.abs(ir)
    peak = float(a.max())
    if peak <= 0.0:
        return 0
    first = int(np.argmax(a >= peak * 10.0 ** (threshold_db / 20.0)))
    stop = min(a.size, first + 48)  # the local peak within ~1 ms
    return first + int(np.argmax(a[first:stop]))


@dataclass(frozen=True)
class DecayFit:
    """Reverberation of one octave band.

    ``t20_s`` / ``t30_s``: RT60 extrapolated from the −5…−25 / −5…−35 dB part of the Schroeder
    curve (None where the decay range above the noise is too small); ``rt60_s``: T30 if known,
    else T20; ``edt_s``: early decay time (0…−10 dB); ``range_db``: decay range above the noise.
    """

    band_hz: float
    rt60_s: float | None
    t20_s: float | None
    t30_s: float | None
    edt_s: float | None
    range_db: float


def _octave_sos(band_hz: float, sample_rate_hz: int) -> np.ndarray:
    lo = band_hz / 2 ** 0.5
    hi = min(band_hz * 2 ** 0.5, 0.48 * sample_rate_hz)
    return signal.butter(3, [lo, hi], btype="bandpass", fs=sample_rate_hz, output="sos")


def schroeder_db(ir: np.ndarray, sample_rate_hz: int) -> tuple[np.ndarray, float]:
    """Schroeder energy decay curve with the noise floor removed (Chu's method, truncated).

    The noise power is the mean square of the last 10 % of ``ir``; it is subtracted from the
    squared response up to where the smoothed envelope reaches the noise (+3 dB), and the
    backward integral stops there.

    Returns
    -------
    edc_db : np.ndarray, shape (n,), dB re the total energy (−inf-free: floored at −200)
    range_db : float
        Envelope peak over the noise floor, dB.
    """
    e = np.asarray(ir, dtype=np.float64) ** 2
    n = e.size
    noise = float(np.mean(e[int(0.9 * n):])) if n >= 10 else 0.0
    win = max(1, int(0.01 * sample_rate_hz))  # 10 ms envelope
    nblk = n // win
    env = e[:nblk * win].reshape(nblk, win).mean(axis=1)
    k_peak = int(np.argmax(env))
    peak = float(env[k_peak])
    range_db = 10.0 * math.log10(peak / noise) if noise > 0 else 200.0
    below = np.flatnonzero(env[k_peak:] < 2.0 * noise)
    cut = n if below.size == 0 else (k_peak + int(below[0])) * win
    ec = np.clip(e[:cut] - noise, 0.0, None)
    edc = np.cumsum(ec[::-1])[::-1]
    out = np.full(n, -200.0)
    total = edc[0] if edc.size else 0.0
    if total > 0:
        out[:cut] = 10.0 * np.log10(np.maximum(edc / total, 1e-20))
    return out, range_db


def _fit_rt60(edc_db: np.ndarray, sample_rate_hz: int, hi_db: float, lo_db: float
              ) -> float | None:
    """RT60 from a line fitted to the decay curve between ``hi_db`` and ``lo_db``."""
    above = np.flatnonzero(edc_db <= hi_db)
    below = np.flatnonzero(edc_db <= lo_db)
    if above.size == 0 or below.size == 0 or edc_db[below[0]] < -199.0:
        return None
    i0, i1 = int(above[0]), int(below[0])
    if i1 - i0 < 8:
        return None
    t = np.arange(i0, i1) / sample_rate_hz
    slope_db_s = np.polyfit(t, edc_db[i0:i1], 1)[0]
    if slope_db_s >= 0:
        return None
    return float(-60.0 / slope_db_s)


def rt60_bands(ir: np.ndarray, sample_rate_hz: int,
               bands_hz: tuple[float, ...] = OCTAVE_BANDS_HZ) -> list[DecayFit]:
    """Reverberation time per octave band.

    Parameters
    ----------
    ir : np.ndarray, shape (n,)
        The impulse response, starting at or before the direct sound and long enough to reach
        the noise floor (a tail of noise at the end is used to estimate it).
    sample_rate_hz : int
    bands_hz : tuple of float
        Octave-band centres; those above 0.35 × the sample rate are skipped.

    Returns
    -------
    list of DecayFit, one per band measured
    """
    out = []
    x = np.asarray(ir, dtype=np.float64)
    for fc in bands_hz:
        if fc * 2 ** 0.5 > 0.48 * sample_rate_hz:
            continue
        y = signal.sosfilt(_octave_sos(fc, sample_rate_hz), x)
        edc, range_db = schroeder_db(y, sample_rate_hz)
        t20 = _fit_rt60(edc, sample_rate_hz, -5.0, -25.0) if range_db >= 35.0 else None
        t30 = _fit_rt60(edc, sample_rate_hz, -5.0, -35.0) if range_db >= 45.0 else None
        edt = _fit_rt60(edc, sample_rate_hz, 0.0, -10.0) if range_db >= 20.0 else None
        out.append(DecayFit(fc, t30 if t30 is not None else t20, t20, t30, edt, range_db))
    return out


def response_db(ir: np.ndarray, sample_rate_hz: int, freqs_hz: np.ndarray | None = None,
                reference: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """⅓-octave power-averaged magnitude of ``ir``, dB.

    Parameters
    ----------
    ir : np.ndarray, shape (n,)
    sample_rate_hz : int
    freqs_hz : np.ndarray, optional
        Band centres (default :func:`response_freqs_hz`).
    reference : np.ndarray, optional
        ``sweep * inverse``: its own band response is subtracted (takes the sweep's edge ripple
        and fades out of the result).

    Returns
    -------
    freqs_hz : np.ndarray, shape (n_bands,), Hz
    response_db : np.ndarray, shape (n_bands,), dB (gain from the output to the mic, 0 dB =
        the mic reads what was sent)
    """
    f_c = response_freqs_hz(sample_rate_hz) if freqs_hz is None else np.asarray(freqs_hz)
    nfft = 1 << int(math.ceil(math.log2(max(ir.size, 2 * sample_rate_hz // 10))))
    f = np.fft.rfftfreq(nfft, 1.0 / sample_rate_hz)
    m = band_matrix(f, f_c)
    spec = np.fft.rfft(ir, nfft)
    p = m @ (spec.real ** 2 + spec.imag ** 2)
    r = 10.0 * np.log10(np.maximum(p, 1e-20))
    if reference is not None:
        nfft_r = 1 << int(math.ceil(math.log2(reference.size)))
        m_r = band_matrix(np.fft.rfftfreq(nfft_r, 1.0 / sample_rate_hz), f_c)
        spec_r = np.fft.rfft(reference, nfft_r)
        r -= 10.0 * np.log10(np.maximum(m_r @ (spec_r.real ** 2 + spec_r.imag ** 2), 1e-20))
    return f_c, r


@dataclass(frozen=True)
class RoomProfile:
    """What the soundcheck measured; saved as JSON beside a PNG plot.

    ``delay_ms`` is the loop delay liveai sees (output buffer → input buffer: interface latency
    plus the acoustic path), the number the live estimator searches for; ``acoustic_delay_ms``
    takes the latency PortAudio reports away (−1 when unknown). ``rt60_s`` maps the octave-band
    centre (as a string, Hz) to seconds or None; ``response_db`` lies on ``freqs_hz``.
    """

    sample_rate_hz: int
    delay_ms: float
    rt60_s: dict[str, float | None]
    freqs_hz: list[float]
    response_db: list[float]
    date: str = ""
    devices: dict[str, str] = field(default_factory=dict)
    acoustic_delay_ms: float = -1.0
    io_latency_ms: float = -1.0
    t20_s: dict[str, float | None] = field(default_factory=dict)
    t30_s: dict[str, float | None] = field(default_factory=dict)
    edt_s: dict[str, float | None] = field(default_factory=dict)
    snr_db: float = 0.0
    mic_peak_db: float = 0.0
    level_db: float = 0.0
    sweep_s: float = 0.0
    version: int = PROFILE_VERSION

    @property
    def delay_samples(self) -> int:
        """:attr:`delay_ms` in samples at :attr:`sample_rate_hz`."""
        return int(round(self.delay_ms * 1e-3 * self.sample_rate_hz))

    def rt60_max_s(self) -> float:
        """Longest band RT60 measured, seconds (0 when none)."""
        vals = [v for v in self.rt60_s.values() if v is not None]
        return max(vals) if vals else 0.0

    def to_json(self) -> str:
        """The profile as indented JSON text."""
        return json.dumps(asdict(self), indent=2)


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


def profile(recording: np.ndarray, sweep: np.ndarray, sample_rate_hz: int,
            f_lo_hz: float = 20.0, f_hi_hz: float = 20000.0, ir_s: float | None = None,
            **info) -> tuple[RoomProfile, np.ndarray]:
    """Everything the soundcheck derives from one recorded sweep.

    Parameters
    ----------
    recording : np.ndarray, shape (m,)
        The mic, sample 0 aligned with the first sample of the sweep sent out (so the delay
        found is the loop delay); ``m`` should exceed the sweep by the reverb tail.
    sweep : np.ndarray, shape (n,)
        The sweep as sent, at full scale (:func:`make_sweep`, before the level).
    sample_rate_hz : int
    f_lo_hz, f_hi_hz : float
        The sweep's frequencies.
    ir_s : float, optional
        Length of the impulse response analysed, seconds (default: all the tail recorded).
    **info
        Extra :class:`RoomProfile` fields (``devices``, ``level_db``, ``io_latency_ms``, ...).
        The recording is divided by ``10 ** (level_db / 20)`` so the response is the gain of
        the path.

    Returns
    -------
    RoomProfile
    np.ndarray, shape (n_ir,), the impulse response (lag 0 = the sweep's first sample)
    """
    inv = inverse_filter(sweep, sample_rate_hz, f_lo_hz, f_hi_hz)
    level = 10.0 ** (info.get("level_db", 0.0) / 20.0)
    n_ir = None if ir_s is None else int(ir_s * sample_rate_hz)
    ir = impulse_response(np.asarray(recording, dtype=np.float64) / level, sweep, inv, n_ir)
    delay = arrival_samples(ir)
    ref = _fftconvolve(sweep, inv)  # the band-limited pulse a perfect path would give
    freqs, resp = response_db(ir, sample_rate_hz, reference=ref)
    fits = rt60_bands(ir[max(0, delay - int(0.002 * sample_rate_hz)):], sample_rate_hz)
    io_ms = float(info.pop("io_latency_ms", -1.0))
    delay_ms = 1e3 * delay / sample_rate_hz
    prof = RoomProfile(
        sample_rate_hz=int(sample_rate_hz),
        delay_ms=round(delay_ms, 4),
        rt60_s={f"{d.band_hz:g}": _r(d.rt60_s) for d in fits},
        t20_s={f"{d.band_hz:g}": _r(d.t20_s) for d in fits},
        t30_s={f"{d.band_hz:g}": _r(d.t30_s) for d in fits},
        edt_s={f"{d.band_hz:g}": _r(d.edt_s) for d in fits},
        freqs_hz=[round(float(v), 3) for v in freqs],
        response_db=[round(float(v), 3) for v in resp],
        date=info.pop("date", None) or datetime.datetime.now(datetime.UTC).isoformat(
            timespec="seconds"),
        io_latency_ms=round(io_ms, 4),
        acoustic_delay_ms=round(delay_ms - io_ms, 4) if io_ms >= 0 else -1.0,
        sweep_s=round(sweep.size / sample_rate_hz, 4),
        **info,
    )
    return prof, ir


def save_profile(prof: RoomProfile, path: str | Path) -> Path:
    """Write ``prof`` as JSON; returns the path written."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(prof.to_json() + "\n", encoding="utf-8")
    return p


def load_profile(path: str | Path) -> RoomProfile:
    """Read a room profile written by ``liveai measure``.

    Raises
    ------
    ProfileError
        When the file is missing, not JSON, or lacks or mistypes a field; the message names it.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"room profile {p}: no such file (run 'liveai measure')") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProfileError(f"room profile {p}: cannot read it ({exc})") from None
    if not isinstance(data, dict):
        raise ProfileError(f"room profile {p}: expected a JSON object")
    names = set(RoomProfile.__dataclass_fields__)
    unknown = sorted(set(data) - names)
    if unknown:
        log.warning("room profile %s: ignoring unknown fields %s", p, ", ".join(unknown))
    for key in ("sample_rate_hz", "delay_ms", "rt60_s", "freqs_hz", "response_db"):
        if key not in data:
            raise ProfileError(f"room profile {p}: field {key!r} is missing")
    try:
        prof = RoomProfile(**{k: v for k, v in data.items() if k in names})
        sr = int(prof.sample_rate_hz)
        delay = float(prof.delay_ms)
        freqs = [float(v) for v in prof.freqs_hz]
        resp = [float(v) for v in prof.response_db]
        rt = {str(k): (None if v is None else float(v)) for k, v in dict(prof.rt60_s).items()}
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"room profile {p}: malformed ({exc})") from None
    if sr < 8000 or not math.isfinite(delay) or delay < 0 or len(freqs) != len(resp):
        raise ProfileError(f"room profile {p}: sample_rate_hz = {sr}, delay_ms = {delay}, "
                           f"{len(freqs)} freqs for {len(resp)} response values: out of range")
    return RoomProfile(**{**asdict(prof), "sample_rate_hz": sr, "delay_ms": delay,
                          "freqs_hz": freqs, "response_db": resp, "rt60_s": rt})


def seed_mixer(mixer, prof: RoomProfile | str | Path, io_latency_ms: float | None = None
               ) -> RoomProfile:
    """Start an :class:`~liveai.mixer.AdaptiveMixer`'s live room estimate from a soundcheck.

    The room model is placed at the measured delay at once (the live delay finder needs a few
    seconds of music and keeps tracking from there); a warning says when the model is shorter
    than the measured reverb.

    Parameters
    ----------
    mixer : AdaptiveMixer
    prof : RoomProfile or path of a profile JSON
    io_latency_ms : float, optional
        Input + output latency of the live stream, ms. Given, the delay is the profile's
        acoustic delay plus this (the show may run other block sizes than the soundcheck);
        otherwise the profile's loop delay as measured.

    Returns
    -------
    RoomProfile
        The profile used.

    Raises
    ------
    ProfileError
        When the file cannot be read.
    """
    if not isinstance(prof, RoomProfile):
        prof = load_profile(prof)
    sr = int(mixer.sample_rate_hz)
    cfg = mixer.config
    delay_ms = prof.delay_ms
    if io_latency_ms is not None and io_latency_ms >= 0 and prof.acoustic_delay_ms >= 0:
        delay_ms = prof.acoustic_delay_ms + io_latency_ms
    delay = int(round(delay_ms * 1e-3 * sr))  # [ms] * 1e-3 [s/ms] * [samples/s]
    if delay_ms > cfg.max_delay_ms:
        log.warning("room profile delay %.1f ms is beyond [mixer] max_delay_ms = %g: the room "
                    "model cannot reach it", delay_ms, cfg.max_delay_ms)
    if prof.sample_rate_hz != sr:
        log.warning("room profile measured at %d Hz, mixer runs at %d Hz: the delay is carried "
                    "over in ms; measure again if the interface latency changed",
                    prof.sample_rate_hz, sr)
    mixer.estimator.seed_delay(delay, f"room profile of {prof.date or 'unknown date'}")
    rt = prof.rt60_max_s()
    if rt > cfg.room_model_s:
        log.warning("the room model (%.2f s) is shorter than the measured RT60 (%.2f s): raise "
                    "[mixer] room_model_s", cfg.room_model_s, rt)
    return prof
