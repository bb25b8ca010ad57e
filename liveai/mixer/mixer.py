"""The adaptive mixer: the chain in the PA path, steered by the room and the crowd.

``process(programme, mic)`` runs the chain (EQ → gain → limiter → ceiling, one numba kernel),
feeds what it sent and what the mic heard to the room estimator, and every ``update_s`` of
programme recomputes the EQ and gain targets, which glide in sample by sample. Everything is
driven by ``process`` (no thread), so a run is deterministic; the engine may call
:meth:`AdaptiveMixer.update` from its room thread instead by passing ``auto_update=False``.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import os

import numpy as np

from liveai.dsp.chain import Chain
from liveai.errors import LiveAIError
from liveai.mixer.autoeq import AutoEQ
from liveai.mixer.config import MixerConfig
from liveai.mixer.estimator import RoomEstimator
from liveai.mixer.measure import RoomProfile, seed_mixer

log = logging.getLogger(__name__)


class MixerError(LiveAIError):
    """The mixer was given blocks it cannot take (wrong shape, wrong length)."""


class AdaptiveMixer:
    """EQ, gain and limiter in the PA path that measure the room and the crowd from the music.

    Parameters
    ----------
    sample_rate_hz : int
    block_size : int
        Usual frames per call (any length is accepted; buffers grow once if a longer one comes).
    channels : int
        Programme channels (1 = mono blocks of shape (frames,)).
    config : MixerConfig, optional
        Limits and targets; None = the defaults.
    auto_update : bool
        Recompute EQ/gain targets inside :meth:`process` every ``config.update_s``.
    estimator : RoomEstimator-like, optional
        The room estimate to steer by (the engine passes a
        :class:`~liveai.mixer.worker.RemoteEstimate` of an estimator in another process);
        None = a :class:`~liveai.mixer.estimator.RoomEstimator` of its own, fed by
        :meth:`process`.
    """

    def __init__(self, sample_rate_hz: int, block_size: int, channels: int,
                 config: MixerConfig | None = None, auto_update: bool = True,
                 estimator=None) -> None:
        if int(sample_rate_hz) < 8000:
            raise MixerError(f"sample_rate_hz = {sample_rate_hz}: at least 8000")
        if int(channels) < 1 or int(block_size) < 1:
            raise MixerError(f"channels = {channels}, block_size = {block_size}: both at least 1")
        self.sample_rate_hz = sr = int(sample_rate_hz)
        self.block_size = int(block_size)
        self.channels = int(channels)
        self.config = cfg = config if config is not None else MixerConfig()
        self.auto_update = auto_update
        self.chain = Chain(sr, self.channels, n_bands=cfg.n_bands, ceiling_db=cfg.ceiling_db,
                           lookahead_ms=cfg.lookahead_ms, release_ms=cfg.release_ms,
                           smoothing_ms=cfg.smoothing_ms)
        self.estimator = RoomEstimator(sr, cfg) if estimator is None else estimator
        self.autoeq = AutoEQ(sr, cfg, self.estimator.freqs_hz)
        self.crowd_gain_db = 0.0
        self.bypassed = False
        self.crowd_enabled = cfg.crowd_comp
        self.eq_enabled = cfg.auto_eq
        self._samples = 0
        self._next_update = int(cfg.update_s * sr)
        self._min_limiter_gain = 1.0
        self.changes: collections.deque = collections.deque(maxlen=200)
        self.change_count = 0  # every change ever logged (``changes`` keeps the last 200)
        #: True: new targets wait in :attr:`pending` until :meth:`flush` (the engine's room
        #: thread flips the chain's parameters only once the callback has taken the last set).
        self.hold_apply = False
        self.pending = False
        self._apply()

    # -- the audio path --------------------------------------------------------------------------
    @property
    def latency_samples(self) -> int:
        """Delay of the programme through the chain."""
        return self.chain.latency_samples

    def process(self, program_block: np.ndarray, mic_block: np.ndarray) -> np.ndarray:
        """Run one block.

        Parameters
        ----------
        program_block : np.ndarray, shape (frames,) for one channel or (frames, channels)
            The programme from the desk, full scale = 1.0.
        mic_block : np.ndarray, shape (frames,)
            The room mic over the same frames.

        Returns
        -------
        np.ndarray, float32, the shape of ``program_block``
            What goes to the PA.
        """
        x = np.asarray(program_block, dtype=np.float32)
        mono = x.ndim == 1
        if mono:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.channels:
            want = f"(frames, {self.channels})" if self.channels > 1 else "(frames,)"
            raise MixerError(f"program block of shape {np.shape(program_block)}: expected {want}")
        mic = np.asarray(mic_block, dtype=np.float64).reshape(-1)
        if mic.size != x.shape[0]:
            raise MixerError(f"mic block of {mic.size} frames beside a program block of "
                             f"{x.shape[0]}: they must be the same length")
        x = np.ascontiguousarray(x)
        out = np.empty(x.shape, dtype=np.float32)
        start = 0
        frames = x.shape[0]
        # split the block where an update falls, so every change lands on the same sample
        # whatever the caller's block size (the whole mixer is block-size invariant)
        while start < frames:
            stop = frames
            if self.auto_update:
                stop = min(frames, start + self._next_update - self._samples)
            seg = out[start:stop]
            self.chain.process(x[start:stop], seg)
            ref = seg[:, 0].astype(np.float64) if self.channels == 1 else seg.mean(axis=1)
            self.estimator.push(ref, mic[start:stop])
            self._samples += stop - start
            start = stop
            if self.auto_update and self._samples >= self._next_update:
                self._next_update += int(self.config.update_s * self.sample_rate_hz)
                self.update()
        return out[:, 0] if mono else out

    # -- the slow loop ---------------------------------------------------------------------------
    def observe(self, ref: np.ndarray, mic: np.ndarray) -> None:
        """Feed what went to the PA and what the mic heard (the engine's room thread).

        Parameters
        ----------
        ref : np.ndarray, shape (frames,), float64
            The chain's output (the mean of its channels).
        mic : np.ndarray, shape (frames,)
            The room mic over the same frames.
        """
        self.estimator.push(ref, mic)
        self._samples += int(np.shape(ref)[0])

    def flush(self) -> bool:
        """Hand targets held back by :attr:`hold_apply` to the chain; True when it did."""
        if not self.pending:
            return False
        self.pending = False
        self._send()
        return True

    def set_max_boost(self, db: float) -> None:
        """Change the largest boost of any band (and of the crowd compensation), dB."""
        cfg = self.config
        new = dataclasses.replace(cfg, max_boost_db=float(db),
                                  crowd_max_gain_db=min(float(db), cfg.crowd_max_gain_db))
        self.config = self.autoeq.config = new
        self.crowd_gain_db = min(self.crowd_gain_db, new.crowd_max_gain_db)
        self._log_change(f"max boost {db:.1f} dB", "engineer")
        self._apply()

    def update(self) -> None:
        """Recompute EQ and gain targets from the latest estimates and hand them to the chain."""
        cfg = self.config
        est = self.estimator
        dt = cfg.update_s
        self._min_limiter_gain = min(self._min_limiter_gain, self.chain.read_min_gain())
        if est.seconds < 2.0:
            return
        changed = False
        if self.eq_enabled:
            delta = self.autoeq.update(est.response_db(), est.coherence(), dt)
            if np.any(np.abs(delta) > 1e-9):
                changed = True
                k = int(np.argmax(np.abs(delta)))
                self._log_change(f"eq band {k} ({self.autoeq.band_freqs_hz[k]:.0f} Hz) "
                                 f"{self.autoeq.gains_db[k]:+.1f} dB",
                                 f"room {self.autoeq.wanted_db[k]:+.1f} dB wanted there; "
                                 f"{int(np.count_nonzero(np.abs(delta) > 1e-9))} bands moved")
        # crowd compensation once the crowd level is measured (the residual of an unlearned
        # room would read as a loud crowd)
        if (self.crowd_enabled and not self.autoeq.locked and est.crowd_valid
                and est.erle_db() > 3.0):
            margin = est.music_level_db() - est.crowd_level_db()
            want = float(np.clip(self.crowd_gain_db + cfg.crowd_margin_db - margin, 0.0,
                                 cfg.crowd_max_gain_db))
            up, down = cfg.crowd_attack_db_s * dt, cfg.crowd_release_db_s * dt
            new = self.crowd_gain_db + float(np.clip(want - self.crowd_gain_db, -down, up))
            if abs(new - self.crowd_gain_db) > 1e-9:
                changed = True
                self.crowd_gain_db = new
                self._log_change(f"crowd gain {new:+.2f} dB",
                                 f"music {margin:.1f} dB over the crowd "
                                 f"({est.crowd_level_db():.1f} dBFS), want "
                                 f"{cfg.crowd_margin_db:.0f} dB")
        if changed:
            self._apply()

    def _log_change(self, what: str, why: str) -> None:
        t = self._samples / self.sample_rate_hz
        self.changes.append((round(t, 3), what, why))
        self.change_count += 1
        log.debug("%.1f s: %s (%s)", t, what, why)

    def _apply(self) -> None:
        if self.hold_apply:
            self.pending = True
            return
        self._send()

    def _send(self) -> None:
        gain = 10.0 ** (self.gain_db / 20.0)
        self.chain.set_params(coefs=self.autoeq.coefs()[None], gains=np.full(self.channels, gain),
                              bypass=self.bypassed)

    # -- taking control back ---------------------------------------------------------------------
    @property
    def gain_db(self) -> float:
        """Gain in force: static gain plus crowd compensation, dB."""
        return self.config.gain_db + self.crowd_gain_db

    def load_profile(self, profile: RoomProfile | str | os.PathLike,
                     io_latency_ms: float | None = None) -> RoomProfile:
        """Start the live room estimate from a soundcheck (``liveai measure``).

        The room model is placed at the measured delay at once instead of after the delay
        finder's first seconds of music; the estimate then goes on tracking the room.

        Parameters
        ----------
        profile : RoomProfile or path of ``room_profile.json``
        io_latency_ms : float, optional
            The live stream's input + output latency, ms: the delay becomes the measured
            acoustic delay plus this (else the loop delay as measured).

        Returns
        -------
        RoomProfile
            The profile used.

        Raises
        ------
        liveai.mixer.measure.ProfileError
            When the file cannot be read.
        """
        prof = seed_mixer(self, profile, io_latency_ms)
        delay_ms = 1e3 * self.estimator.delay_samples / self.sample_rate_hz
        self._log_change(f"room delay {delay_ms:.1f} ms", "soundcheck profile")
        return prof

    def set_bypass(self, on: bool) -> None:
        """Crossfade to the dry programme (the hard ceiling stays) or back."""
        self.bypassed = bool(on)
        self._log_change("bypass " + ("on" if on else "off"), "engineer")
        self._apply()

    def lock(self, on: bool = True) -> None:
        """Hold the EQ and the crowd gain where they are (estimation goes on)."""
        self.autoeq.locked = bool(on)
        self._log_change("eq " + ("locked" if on else "unlocked"), "engineer")

    def set_auto_eq(self, on: bool) -> None:
        """Turn the automatic EQ on or off (off: the bands stay where they are)."""
        self.eq_enabled = bool(on)

    def set_crowd_compensation(self, on: bool) -> None:
        """Turn crowd compensation on or off (off: its gain returns to 0 dB at once, gliding)."""
        self.crowd_enabled = bool(on)
        if not on:
            self.crowd_gain_db = 0.0
            self._apply()

    def freeze_band(self, band: int, on: bool = True) -> None:
        """Keep one band's automatic gain where it is."""
        self.autoeq.frozen[self._band(band)] = bool(on)
        self._log_change(f"band {band} " + ("frozen" if on else "thawed"), "engineer")

    def set_band(self, band: int, gain_db: float | None) -> None:
        """Set one band by hand (None = give it back to the auto-EQ)."""
        k = self._band(band)
        if gain_db is None:
            self.autoeq.manual_db[k] = np.nan
        else:
            g = float(gain_db)
            if not math.isfinite(g) or not -24.0 <= g <= 24.0:
                raise MixerError(f"band {band} gain {gain_db!r} dB: must be within +-24 dB")
            self.autoeq.manual_db[k] = g
        self._log_change(f"band {band} manual {gain_db}", "engineer")
        self._apply()

    def _band(self, band: int) -> int:
        if not 0 <= int(band) < self.config.n_bands:
            raise MixerError(f"band {band}: the EQ has bands 0..{self.config.n_bands - 1}")
        return int(band)

    # -- what the engineer sees ------------------------------------------------------------------
    def report(self) -> dict:
        """Every estimate and setting, as plain numbers and arrays.

        Returns
        -------
        dict
            ``freqs_hz`` (n,) ⅓-octave centres; ``response_db`` (n,) room magnitude, dB;
            ``coherence`` (n,) 0..1; ``eq_db`` (n,) the EQ in force; ``target_db`` (n,);
            ``crowd_level_db`` dBFS at the mic; ``crowd_valid`` (False while the crowd level
            is still the model's residual, which reads high); ``crowd_band_db`` (n,);
            ``music_level_db``;
            ``mic_level_db``; ``erle_db``; ``gain_db``; ``crowd_gain_db``; ``band_freqs_hz``;
            ``band_gains_db``; ``wanted_gains_db``; ``limiter_gain_db`` (lowest since the last
            report); ``delay_ms`` (-1 until found); ``seconds``; ``bypass``; ``locked``;
            ``nonfinite`` (bad samples replaced, programme + mic); ``changes`` (last 20
            automatic or manual changes: time s, what, why).
        """
        est = self.estimator
        f = est.freqs_hz
        lim = min(self._min_limiter_gain, self.chain.read_min_gain())
        self._min_limiter_gain = 1.0
        return {
            "freqs_hz": f.copy(),
            "response_db": est.response_db().copy(),
            "coherence": est.coherence(),
            "eq_db": self.autoeq.curve_db(f),
            "target_db": self.autoeq.target_db.copy(),
            "crowd_level_db": est.crowd_level_db(),
            "crowd_valid": bool(est.crowd_valid),
            "crowd_band_db": est.crowd_band_db(),
            "residual_level_db": est.residual_level_db(),
            "music_level_db": est.music_level_db(),
            "mic_level_db": est.mic_level_db(),
            "erle_db": est.erle_db(),
            "gain_db": self.gain_db,
            "crowd_gain_db": self.crowd_gain_db,
            "band_freqs_hz": self.autoeq.band_freqs_hz.copy(),
            "band_gains_db": self.autoeq.applied_db(),
            "wanted_gains_db": self.autoeq.wanted_db.copy(),
            "limiter_gain_db": 20.0 * math.log10(max(lim, 1e-6)),
            "delay_ms": (1e3 * est.delay_samples / self.sample_rate_hz
                         if est.delay_samples >= 0 else -1.0),
            "seconds": est.seconds,
            "bypass": self.bypassed,
            "locked": self.autoeq.locked,
            "nonfinite": int(self.chain.counts[0]) + est.nonfinite,
            "changes": list(self.changes)[-20:],
        }
