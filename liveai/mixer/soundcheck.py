"""``liveai measure``: play a sweep through the PA, record the room mic, save a room profile.

The DSP lives in :mod:`liveai.mixer.measure`; this module opens one duplex PortAudio stream
(output and mic on the same clock, so the loop delay is sample-exact), checks what the mic heard
(silent, clipping, too noisy: one-line :class:`MeasureError`), and writes the profile (JSON) and
its plot (PNG, drawn with Pillow).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import sounddevice as sd

from liveai.audio.devices import find_device, pulse_source_env
from liveai.audio.stream import FIRST_CALLBACK_GRACE_S
from liveai.errors import ConfigError, DeviceError, LiveAIError
from liveai.mixer import measure

log = logging.getLogger(__name__)

#: Default folder of the room profile: ``$XDG_CONFIG_HOME/liveai/room`` (``~/.config/...``).
PROFILE_NAME = "room_profile"
SILENT_PEAK_DB = -80.0  # a mic whose peak stays below this hears nothing
CLIP_PEAK_DB = -0.5  # a mic peak above this has clipped (or is about to)
MIN_SNR_DB = 10.0  # sweep over room noise at the mic, broadband


def default_profile_dir() -> Path:
    """``$XDG_CONFIG_HOME/liveai/room`` (``~/.config/liveai/room``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "liveai" / "room"


class MeasureError(LiveAIError):
    """The soundcheck measurement could not be made or trusted (silent mic, clipping, noise)."""


@dataclass(frozen=True)
class SweepRecording:
    """What one sweep gave: the mic aligned with what was sent.

    ``mic`` sample ``pre_samples`` is the moment the sweep's first sample left liveai's output
    buffer; the first ``pre_samples`` are the room's noise (silence was sent).
    """

    mic: np.ndarray  # shape (n,), float64, full scale 1.0
    sweep: np.ndarray  # shape (n_sweep,), float64, peak 1.0 (sent at level_db)
    sample_rate_hz: int
    pre_samples: int
    level_db: float
    io_latency_ms: float  # input + output latency PortAudio reports, -1 if unknown
    devices: dict
    xruns: int = 0


def run_sweep(output: str = "", input: str = "", mic_channel: int = 1,
              output_channels: tuple[int, ...] | None = None, sample_rate_hz: int = 48000,
              sweep_s: float = 6.0, level_db: float = -12.0,
              tail_s: float = 2.0, pre_s: float = 0.5, block_size: int = 512,
              f_lo_hz: float = 20.0, f_hi_hz: float = 20000.0,
              progress: Callable[[float, float], None] | None = None) -> SweepRecording:
    """Play an exponential sweep on the output and record one mic channel, in one duplex stream.

    Parameters
    ----------
    output, input : str
        Device specs (name substring or index; ``""`` = the input's own device for the output,
        then the default), see :func:`liveai.audio.devices.find_device`.
    mic_channel : int
        1-based input channel of the measurement mic.
    output_channels : tuple of int, optional
        1-based output channels that play the sweep (the PA); default: the first two.
    sample_rate_hz : int
    sweep_s : float
        Sweep length, seconds.
    level_db : float
        Sweep peak, dBFS (≤ 0).
    tail_s, pre_s : float
        Recorded after the sweep (the reverb) and before it (the room's noise), seconds.
    block_size : int
        Frames per callback: the show's, so the loop delay measured is the one the live
        estimate will see.
    f_lo_hz, f_hi_hz : float
        Sweep range.
    progress : callable, optional
        Called about 10 times a second from this thread with (fraction done 0..1, mic peak so far
        in dBFS).

    Raises
    ------
    ConfigError
        When the level, length or channel is out of range.
    DeviceError
        When a device is missing, lacks the channel, or cannot be opened or stops delivering.
    """
    if not -60.0 <= level_db <= 0.0:
        raise ConfigError(f"--level-db {level_db:g}: give -60 to 0 dBFS (default -12)")
    if not 0.5 <= sweep_s <= 60.0:
        raise ConfigError(f"--seconds {sweep_s:g}: give a sweep of 0.5 to 60 s")
    if mic_channel < 1:
        raise ConfigError(f"--mic-channel {mic_channel}: channels count from 1")
    sr = int(sample_rate_hz)
    dev_in = find_device(input, "input")
    if dev_in.max_input_channels < mic_channel:
        raise DeviceError(f"input '{dev_in.name}' has {dev_in.max_input_channels} channels: "
                          f"there is no --mic-channel {mic_channel}")
    if output:
        dev_out = find_device(output, "output")
    else:
        try:
            dev_out = find_device(dev_in.name, "output")
        except DeviceError:
            dev_out = find_device("", "output")
    if output_channels:
        if min(output_channels) < 1 or max(output_channels) > dev_out.max_output_channels:
            raise DeviceError(f"output '{dev_out.name}' has {dev_out.max_output_channels} "
                              f"channels: cannot play on channels {list(output_channels)}")
        n_out = max(output_channels)
        out_index = np.asarray(output_channels, dtype=np.int64) - 1
    else:
        n_out = min(dev_out.max_output_channels, 2)
        out_index = np.arange(n_out)
    sweep = measure.make_sweep(sr, sweep_s, f_lo_hz, f_hi_hz)
    pre = int(pre_s * sr)
    n = pre + sweep.size + int(tail_s * sr)
    play = np.zeros(n, dtype=np.float32)
    play[pre:pre + sweep.size] = sweep * 10.0 ** (level_db / 20.0)
    rec = np.zeros(n, dtype=np.float32)
    state = np.zeros(3, dtype=np.int64)  # position, status flags seen, callbacks
    ch = mic_channel - 1
    done = threading.Event()

    def callback(indata, outdata, frames, _time, status) -> None:
        i = int(state[0])
        k = max(0, min(frames, n - i))
        outdata.fill(0.0)
        outdata[:k, out_index] = play[i:i + k, None]
        rec[i:i + k] = indata[:k, ch]
        state[0] = i + frames
        state[2] += 1
        if status:
            state[1] += 1
        if i + frames >= n:
            done.set()

    log.info("sweep %.1f s at %.1f dBFS: %s -> %s, mic on channel %d of %s", sweep_s, level_db,
             dev_out.label, "room", mic_channel, dev_in.label)
    try:
        with pulse_source_env(dev_in):
            stream = sd.Stream(device=(dev_in.index, dev_out.index), samplerate=sr,
                               blocksize=block_size, dtype="float32",
                               channels=(mic_channel, n_out), callback=callback)
            try:
                stream.start()
            except BaseException:
                stream.close(ignore_errors=True)
                raise
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot open '{dev_out.name}' -> '{dev_in.name}' at {sr} Hz: "
                          f"{exc}") from None
    try:
        lat = stream.latency
        io_ms = 1e3 * (lat[0] + lat[1]) if isinstance(lat, tuple) else -1.0
        deadline = time.monotonic() + n / sr + FIRST_CALLBACK_GRACE_S
        while not done.wait(0.1):
            if progress is not None:
                pos = min(int(state[0]), n)
                peak = float(np.max(np.abs(rec[:pos]))) if pos else 0.0
                progress(pos / n, 20.0 * math.log10(max(peak, 1e-10)))
            if time.monotonic() > deadline:
                raise DeviceError(f"the audio stream on '{dev_in.name}' stopped delivering "
                                  f"({int(state[0])} of {n} frames): is the device still there?")
    except sd.PortAudioError as exc:
        raise DeviceError(f"audio stream on '{dev_in.name}' failed: {exc}") from None
    finally:
        stream.stop(ignore_errors=True)
        stream.close(ignore_errors=True)
    if progress is not None:
        peak = float(np.max(np.abs(rec)))
        progress(1.0, 20.0 * math.log10(max(peak, 1e-10)))
    devices = {"output": dev_out.label, "output_channels": ",".join(str(c + 1) for c in out_index),
               "input": dev_in.label, "mic_channel": str(mic_channel)}
    return SweepRecording(np.nan_to_num(rec.astype(np.float64)), sweep, sr, pre, level_db,
                          io_ms, devices, int(state[1]))


def check_recording(r: SweepRecording) -> tuple[float, float]:
    """Refuse a silent, clipped or noisy recording with a one-line :class:`MeasureError`.

    Returns
    -------
    peak_db : float
        Mic peak, dBFS.
    snr_db : float
        Mean square of the mic during the sweep over that before it, dB.
    """
    where = f"{r.devices.get('input', 'the input')} channel {r.devices.get('mic_channel', '?')}"
    peak = float(np.max(np.abs(r.mic))) if r.mic.size else 0.0
    peak_db = 20.0 * math.log10(max(peak, 1e-10))
    if peak_db < SILENT_PEAK_DB:
        raise MeasureError(f"the mic hears nothing — check the channel and phantom power "
                           f"({where} peaked at {peak_db:.0f} dBFS)")
    if peak_db > CLIP_PEAK_DB:
        raise MeasureError(f"the mic clips ({where} peaked at {peak_db:.1f} dBFS): lower "
                           f"--level-db (now {r.level_db:g}) or the mic preamp gain")
    noise = r.mic[r.pre_samples // 4:r.pre_samples]
    during = r.mic[r.pre_samples:r.pre_samples + r.sweep.size]
    noise_ms = float(np.mean(noise ** 2)) if noise.size else 0.0
    sig_ms = float(np.mean(during ** 2))
    snr_db = 10.0 * math.log10(max(sig_ms, 1e-20) / max(noise_ms, 1e-20))
    if snr_db < MIN_SNR_DB:
        raise MeasureError(
            f"too much noise at the mic: the sweep is only {snr_db:.1f} dB above the room noise "
            f"({10 * math.log10(max(noise_ms, 1e-20)):.0f} dBFS on {where}; needs "
            f"{MIN_SNR_DB:.0f} dB): raise --level-db, quiet the room, or check that the mic "
            "hears the PA")
    return peak_db, snr_db


def analyse(r: SweepRecording, f_lo_hz: float = 20.0, f_hi_hz: float = 20000.0
            ) -> tuple[measure.RoomProfile, np.ndarray]:
    """Check the recording and derive the room profile and impulse response."""
    peak_db, snr_db = check_recording(r)
    prof, ir = measure.profile(r.mic[r.pre_samples:], r.sweep, r.sample_rate_hz, f_lo_hz,
                               f_hi_hz, level_db=r.level_db, io_latency_ms=r.io_latency_ms,
                               devices=dict(r.devices))
    prof = replace(prof, snr_db=round(snr_db, 2), mic_peak_db=round(peak_db, 2))
    missing = [b for b, v in prof.rt60_s.items() if v is None]
    if missing:
        log.warning("RT60 not measured in the %s Hz band(s): the decay does not rise far enough "
                    "above the noise; raise --level-db or --seconds", ", ".join(missing))
    if r.xruns:
        log.warning("%d over/underflows during the sweep: the measurement may be smeared",
                    r.xruns)
    return prof, ir


def write_outputs(prof: measure.RoomProfile, out_dir: str | Path,
                  name: str = PROFILE_NAME) -> tuple[Path, Path]:
    """Save ``prof`` as ``out_dir/name.json`` and its plot as ``out_dir/name.png``."""
    out = Path(out_dir)
    try:
        json_path = measure.save_profile(prof, out / f"{name}.json")
        png_path = plot_profile(prof, out / f"{name}.png")
    except OSError as exc:
        raise MeasureError(f"cannot write the room profile into {out}: {exc}") from None
    return json_path, png_path


# -- the plot --------------------------------------------------------------------------------------
def plot_profile(prof: measure.RoomProfile, path: str | Path, size: tuple[int, int] = (960, 640)
                 ) -> Path:
    """Draw the ⅓-octave response and the RT60 bars into a PNG (Pillow only).

    Parameters
    ----------
    prof : RoomProfile
    path : str or Path
    size : (width, height), pixels

    Returns
    -------
    Path written
    """
    from PIL import Image, ImageDraw, ImageFont

    w, h = size
    img = Image.new("RGB", (w, h), (250, 250, 247))
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    ink, grid, curve, bar = (30, 30, 30), (215, 215, 210), (20, 90, 180), (200, 110, 40)
    title = (f"Room profile {prof.date}   delay {prof.delay_ms:.1f} ms"
             + (f" (acoustic {prof.acoustic_delay_ms:.1f} ms)" if prof.acoustic_delay_ms >= 0
                else "") + f"   SNR {prof.snr_db:.0f} dB")
    d.text((12, 8), title, fill=ink, font=font)

    # response panel: log frequency 20 Hz..20 kHz, dB
    x0, x1, y0, y1 = 60, w - 20, 34, int(h * 0.58)
    f = np.asarray(prof.freqs_hz, dtype=np.float64)
    r = np.asarray(prof.response_db, dtype=np.float64)
    ok = np.isfinite(r) & (r > -150)
    top = 6.0 * math.ceil((float(np.max(r[ok])) if ok.any() else 0.0) / 6.0 + 0.5)
    bottom = top - 48.0

    def fx(freq: float) -> float:
        return x0 + (x1 - x0) * math.log(freq / 20.0) / math.log(1000.0)

    def fy(db: float) -> float:
        return y0 + (y1 - y0) * (top - min(max(db, bottom), top)) / (top - bottom)

    for freq in (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000):
        x = fx(freq)
        d.line([(x, y0), (x, y1)], fill=grid)
        d.text((x - 10, y1 + 4), f"{freq:g}" if freq < 1000 else f"{freq // 1000}k", fill=ink,
               font=font)
    for db in np.arange(bottom, top + 1e-9, 6.0):
        y = fy(db)
        d.line([(x0, y), (x1, y)], fill=grid)
        d.text((8, y - 6), f"{db:+.0f} dB", fill=ink, font=font)
    d.rectangle([x0, y0, x1, y1], outline=ink)
    pts = [(fx(fi), fy(ri)) for fi, ri in zip(f[ok], r[ok], strict=True) if 20 <= fi <= 20000]
    if len(pts) > 1:
        d.line(pts, fill=curve, width=3)
    for p in pts:
        d.ellipse([p[0] - 3, p[1] - 3, p[0] + 3, p[1] + 3], fill=curve)
    d.text((x0 + 6, y0 + 4), "response, 1/3 octave (output -> mic)", fill=curve, font=font)

    # RT60 panel: one bar per octave band
    bx0, bx1, by0, by1 = 60, w - 20, int(h * 0.58) + 40, h - 40
    bands = list(prof.rt60_s.items())
    vals = [v for _, v in bands if v is not None]
    vmax = max(0.5, 0.5 * math.ceil(max(vals, default=0.5) / 0.5 + 0.2))
    d.rectangle([bx0, by0, bx1, by1], outline=ink)
    for t in np.arange(0.0, vmax + 1e-9, 0.5):
        y = by1 - (by1 - by0) * t / vmax
        d.line([(bx0, y), (bx1, y)], fill=grid)
        d.text((14, y - 6), f"{t:.1f} s", fill=ink, font=font)
    slot = (bx1 - bx0) / max(len(bands), 1)
    for i, (band, v) in enumerate(bands):
        cx = bx0 + slot * (i + 0.5)
        label = f"{float(band):g}" if float(band) < 1000 else f"{float(band) / 1000:g}k"
        d.text((cx - 12, by1 + 4), label + " Hz", fill=ink, font=font)
        if v is None:
            d.text((cx - 8, by1 - 16), "n/a", fill=ink, font=font)
            continue
        y = by1 - (by1 - by0) * v / vmax
        d.rectangle([cx - slot * 0.3, y, cx + slot * 0.3, by1], fill=bar)
        d.text((cx - 14, y - 14), f"{v:.2f}", fill=ink, font=font)
    d.text((bx0 + 6, by0 + 4), "RT60 per octave band (T30, else T20)", fill=bar, font=font)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out, format="PNG")
    return out
