"""liveai's audio uniforms: what every scene gets from the music, and how it is computed.

The engine publishes a FeatureFrame per analysis hop; the projector draws at its own rate. The
:class:`AudioState` here turns the latest frame into per-render-frame values: event counters become
pulses that decay in real time, the beat clock runs on between hops, and the predicted-beat pulse
fires ``visual_latency_ms`` *before* the beat so the flash lands on it once the projector and the
audio path have added their delay.

:data:`AUDIO_UNIFORMS` is the single list of names, types and meanings: the GLSL declarations and
the README table are both generated from it.
"""

from __future__ import annotations

import math

import numpy as np

from liveai.frame import N_BANDS, N_ONSET_BANDS, SPECTRUM_BINS, WAVEFORM_SAMPLES

#: Columns of the level-history texture (one per rendered frame, newest on the right).
HISTORY_COLUMNS = 256
#: Rows of the level-history texture: overall level, bass, mid, high, then the 8 bands.
HISTORY_ROWS = 4 + N_BANDS

#: (name, GLSL type, meaning). Textures are listed with type ``sampler2D``.
AUDIO_UNIFORMS: tuple[tuple[str, str, str], ...] = (
    ("la_level", "float", "overall level 0..1, adaptive (quiet and loud rooms both span 0..1)"),
    ("la_bass", "float", "bass level 0..1 (bands 0-1, below ~250 Hz)"),
    ("la_mid", "float", "mid level 0..1 (bands 2-4)"),
    ("la_high", "float", "high level 0..1 (bands 5-7, above ~2.5 kHz)"),
    ("la_bands[8]", "float", "8 log-spaced band levels 0..1, low to high"),
    ("la_bass_smooth", "float", "la_bass smoothed over ~0.5 s (presence, not hits)"),
    ("la_level_smooth", "float", "la_level smoothed over ~0.5 s"),
    ("la_onset", "float", "onset pulse: jumps to the onset strength (0..1) and decays in ~150 ms"),
    ("la_kick", "float", "low-band (kick) onset pulse 0..1"),
    ("la_snare", "float", "mid-band (snare) onset pulse 0..1"),
    ("la_hat", "float", "high-band (hats) onset pulse 0..1"),
    ("la_beat", "float", "beat pulse: 1 on each beat the engine fires, decaying over ~1/4 beat"),
    ("la_beat_ahead", "float",
     "predicted-beat pulse: 1 at the predicted beat minus the visual latency, so it lands on it"),
    ("la_beat_phase", "float", "0 at a beat rising to 1 at the next (runs between analysis hops)"),
    ("la_beat_in_bar", "int", "0 = downbeat .. beats per bar - 1; -1 while unknown"),
    ("la_bar", "float", "downbeat pulse 0..1 (decays over ~1/2 beat)"),
    ("la_bar_phase", "float", "0..1 through the bar"),
    ("la_beats", "float", "continuous beat clock: beats fired + phase (for tempo-locked motion)"),
    ("la_sin_x05", "float", "tempo-locked cosine 0..1 peaking every 2 beats"),
    ("la_sin_x1", "float", "tempo-locked cosine 0..1 peaking on every beat"),
    ("la_sin_x2", "float", "tempo-locked cosine 0..1, twice per beat"),
    ("la_sin_x4", "float", "tempo-locked cosine 0..1, four times per beat"),
    ("la_tri_x05", "float", "tempo-locked triangle 0..1, peak every 2 beats"),
    ("la_tri_x1", "float", "tempo-locked triangle 0..1, peak on every beat"),
    ("la_tri_x2", "float", "tempo-locked triangle 0..1, twice per beat"),
    ("la_tri_x4", "float", "tempo-locked triangle 0..1, four times per beat"),
    ("la_bpm", "float", "tempo in BPM (0 until known)"),
    ("la_confidence", "float", "tempo/beat confidence 0..1"),
    ("la_energy", "float", "energy 0..1: the last second's loudness against the usual level of "
     "the last 30 s (-18 dB .. +3 dB), smoothed"),
    ("la_section", "int", "section state: 0 unknown, 1 breakdown, 2 groove, 3 build, 4 drop"),
    ("la_crowd", "float", "crowd noise at the room mic, 0 = 40 dB under the music .. 1 = as loud "
     "as the music (from the mixer; 0 without it)"),
    ("la_pitch_class", "int", "strongest pitch class 0 = C .. 11 = B; -1 in silence"),
    ("la_chroma[12]", "float", "pitch-class energies C..B, 0..1"),
    ("la_beat_count", "int", "beats fired so far (a stable seed per beat: hash it for random "
     "positions)"),
    ("la_bar_count", "int", "downbeats so far"),
    ("la_kick_count", "int", "low-band (kick) onsets so far"),
    ("la_snare_count", "int", "mid-band (snare) onsets so far"),
    ("la_hat_count", "int", "high-band (hat) onsets so far"),
    ("la_intensity", "float", "master intensity 0..1 set by the operator (the host already dims "
     "the output by it: read it to tame strobes, not to dim)"),
    ("la_spectrum", "sampler2D",
     f"{SPECTRUM_BINS}x1 spectrum, 0..1 (WebAudio's -100..-30 dB mapping), linear frequency "
     "0 .. 12 kHz at 48 kHz (bin k = k x sample rate / 2048)"),
    ("la_spectrum_log", "sampler2D",
     f"{SPECTRUM_BINS}x1 the same spectrum on a log-frequency axis, 30 Hz .. 12 kHz (x = 0.5 is "
     "~600 Hz): what the ear hears as evenly spread"),
    ("la_waveform", "sampler2D", f"{WAVEFORM_SAMPLES}x1 waveform, centred on 0.5"),
    ("la_history", "sampler2D",
     f"{HISTORY_COLUMNS}x{HISTORY_ROWS} level history, newest column on the right; rows: level, "
     "bass, mid, high, bands 0-7"),
)



def audio_uniform_declarations(exclude: set[str] | frozenset = frozenset()) -> str:
    """GLSL declarations of every audio uniform (names in ``exclude`` are left out)."""
    out = []
    for name, gtype, _ in AUDIO_UNIFORMS:
        if name.split("[")[0] not in exclude:
            out.append(f"uniform {gtype} {name};")
    return "\n".join(out)


def _pulse_decay(value: float, dt_s: float, tau_s: float) -> float:
    return value * math.exp(-dt_s / tau_s) if tau_s > 0 else 0.0


def _tri(x: float) -> float:
    """Triangle 0..1 peaking at integer x."""
    f = x - math.floor(x)
    return 1.0 - 2.0 * min(f, 1.0 - f)


class AudioState:
    """Per-render-frame audio values from the latest FeatureFrame.

    Parameters
    ----------
    visual_latency_ms : float
        How long a frame takes from drawing to light on the screen plus the audio path's delay;
        ``la_beat_ahead`` fires this much before each predicted beat.

    Notes
    -----
    Call :meth:`update` once per rendered frame with the latest frame and the render clock. The
    values live in :attr:`values` (name → float/int/tuple) and the texture rows in
    :attr:`spectrum`, :attr:`waveform` and :attr:`history`.
    """

    def __init__(self, visual_latency_ms: float = 40.0) -> None:
        self.visual_latency_s = max(0.0, float(visual_latency_ms)) / 1000.0
        self.spectrum = np.zeros(SPECTRUM_BINS, dtype=np.float32)
        self.spectrum_log = np.zeros(SPECTRUM_BINS, dtype=np.float32)
        self._log_rate = 0
        self._log_pos = np.zeros(SPECTRUM_BINS)
        self.waveform = np.full(WAVEFORM_SAMPLES, 0.5, dtype=np.float32)
        self.history = np.zeros((HISTORY_ROWS, HISTORY_COLUMNS), dtype=np.float32)
        self.values: dict[str, float | int | tuple] = {}
        self.intensity = 1.0
        self.crowd = 0.0
        self.section = 0
        self.reset()

    def reset(self) -> None:
        """Forget every counter and pulse (a new source, or a jump in time)."""
        self._last_frame_index = -1
        self._onset_count = -1
        self._band_counts = np.full(N_ONSET_BANDS, -1, dtype=np.int64)
        self._beat_count = -1
        self._bar_count = -1
        self._pulses = {"la_onset": 0.0, "la_kick": 0.0, "la_snare": 0.0, "la_hat": 0.0,
                        "la_beat": 0.0, "la_beat_ahead": 0.0, "la_bar": 0.0}
        self._phase = 0.0
        self._beats_base = 0.0
        self._period_s = 0.0
        self._predicted_at_s = math.inf
        self._ahead_target = -1  # the beat number the prediction is for
        self._ahead_fired_beat = -1  # the last beat number the pulse fired for
        self._smooth_level = 0.0
        self._smooth_bass = 0.0
        self._energy = 0.0
        self.spectrum[:] = 0.0
        self.spectrum_log[:] = 0.0
        self.waveform[:] = 0.5
        self.history[:] = 0.0
        self._fill(None)

    def _fill(self, frame: np.ndarray | None) -> None:
        v = self.values
        if frame is None:
            bands = np.zeros(N_BANDS, dtype=np.float32)
            chroma = (0.0,) * 12
            v.update(la_beat_count=0, la_bar_count=0, la_kick_count=0, la_snare_count=0,
                     la_hat_count=0)
            v.update(la_level=0.0, la_bpm=0.0, la_confidence=0.0, la_beat_in_bar=-1,
                     la_pitch_class=-1, la_bar_phase=0.0)
        else:
            bands = frame["band_level"]
            chroma = tuple(float(c) for c in frame["chroma"])
            v.update(la_beat_count=int(frame["beat_count"]), la_bar_count=int(frame["bar_count"]),
                     la_kick_count=int(frame["band_onset_count"][0]),
                     la_snare_count=int(frame["band_onset_count"][1]),
                     la_hat_count=int(frame["band_onset_count"][2]))
            v.update(la_level=float(frame["level"]), la_bpm=float(frame["tempo_bpm"]),
                     la_confidence=float(frame["tempo_confidence"]),
                     la_beat_in_bar=int(frame["beat_in_bar"]),
                     la_pitch_class=int(frame["pitch_class"]),
                     la_bar_phase=float(frame["bar_phase"]))
        v["la_bands"] = tuple(float(b) for b in bands)
        v["la_bass"] = float(np.mean(bands[0:2]))
        v["la_mid"] = float(np.mean(bands[2:5]))
        v["la_high"] = float(np.mean(bands[5:8]))
        v["la_chroma"] = chroma
        v["la_intensity"] = self.intensity
        v["la_crowd"] = self.crowd
        v["la_section"] = self.section

    def _log_spectrum(self, sample_rate_hz: int) -> None:
        """Resample the linear spectrum row onto 30 Hz .. top on a log axis."""
        if sample_rate_hz <= 0:
            sample_rate_hz = 48000
        if sample_rate_hz != self._log_rate:
            self._log_rate = sample_rate_hz
            bin_hz = sample_rate_hz / 2048.0  # the row is the first 512 bins of a 2048-point FFT
            top_hz = bin_hz * (SPECTRUM_BINS - 1)
            f = 30.0 * (top_hz / 30.0) ** np.linspace(0.0, 1.0, SPECTRUM_BINS)
            self._log_pos = f / bin_hz
        self.spectrum_log[:] = np.interp(self._log_pos, np.arange(SPECTRUM_BINS), self.spectrum)

    def update(self, frame: np.ndarray, now_s: float, dt_s: float) -> None:
        """Advance by one rendered frame.

        Parameters
        ----------
        frame : np.ndarray
            The latest FeatureFrame (0-d structured array).
        now_s : float
            The render clock, seconds (monotonic for live shows, frame-exact offline).
        dt_s : float
            Seconds since the previous update (0 on the first).
        """
        dt_s = max(0.0, float(dt_s))
        p = self._pulses
        for key, tau in (("la_onset", 0.15), ("la_kick", 0.15), ("la_snare", 0.15),
                         ("la_hat", 0.08)):
            p[key] = _pulse_decay(p[key], dt_s, tau)
        # Beat pulses decay over a fraction of the beat period (a fixed 120 ms without a tempo).
        beat_tau = 0.25 * self._period_s / 2.0 if self._period_s > 0 else 0.06
        for key in ("la_beat", "la_beat_ahead"):
            p[key] = _pulse_decay(p[key], dt_s, beat_tau)
        p["la_bar"] = _pulse_decay(p["la_bar"], dt_s, 2.0 * beat_tau)

        fresh = int(frame["frame_index"]) != self._last_frame_index
        if fresh:
            self._last_frame_index = int(frame["frame_index"])
            self._fill(frame)
            self.section = int(frame["section"])
            onset_count = int(frame["onset_count"])
            if self._onset_count >= 0 and onset_count != self._onset_count:
                p["la_onset"] = max(p["la_onset"], max(0.35, float(frame["onset_strength"])))
            self._onset_count = onset_count
            counts = frame["band_onset_count"]
            strengths = frame["band_onset_strength"]
            for i, key in enumerate(("la_kick", "la_snare", "la_hat")):
                c = int(counts[i])
                if self._band_counts[i] >= 0 and c != self._band_counts[i]:
                    p[key] = max(p[key], max(0.35, float(strengths[i])))
                self._band_counts[i] = c
            beat_count = int(frame["beat_count"])
            if self._beat_count >= 0 and beat_count != self._beat_count:
                p["la_beat"] = 1.0
            self._beat_count = beat_count
            bar_count = int(frame["bar_count"])
            if self._bar_count >= 0 and bar_count != self._bar_count:
                p["la_bar"] = 1.0
            self._bar_count = bar_count
            bpm = float(frame["tempo_bpm"])
            self._period_s = 60.0 / bpm if bpm > 1.0 else 0.0
            self._phase = float(frame["beat_phase"])
            self._beats_base = float(beat_count)
            next_s = float(frame["next_beat_s"])
            self._ahead_target = beat_count + 1
            self._predicted_at_s = now_s + next_s if self._period_s > 0 and next_s > 0 \
                else math.inf
            self.spectrum[:] = frame["spectrum"]
            self._log_spectrum(int(frame["sample_rate_hz"]))
            np.multiply(frame["waveform"], 0.5, out=self.waveform)
            self.waveform += 0.5
        elif self._period_s > 0:
            # Between hops the beat clock runs on at the tempo; it never passes the next beat.
            self._phase = min(self._phase + dt_s / self._period_s, 0.999)
        # The predicted-beat pulse: once per predicted beat, visual_latency_s before it.
        # (Once per beat number: every fresh hop re-predicts the same beat a little differently.)
        if (self._predicted_at_s - self.visual_latency_s <= now_s
                and self._ahead_target != self._ahead_fired_beat):
            p["la_beat_ahead"] = 1.0
            self._ahead_fired_beat = self._ahead_target
        v = self.values
        v.update(p)
        v["la_beat_phase"] = self._phase
        beats = self._beats_base + self._phase
        v["la_beats"] = beats
        for mult, suffix in ((0.5, "x05"), (1.0, "x1"), (2.0, "x2"), (4.0, "x4")):
            v[f"la_sin_{suffix}"] = 0.5 + 0.5 * math.cos(2.0 * math.pi * beats * mult)
            v[f"la_tri_{suffix}"] = _tri(beats * mult)
        a = 1.0 - math.exp(-dt_s / 0.5) if dt_s > 0 else 1.0
        self._smooth_level += a * (float(v["la_level"]) - self._smooth_level)
        self._smooth_bass += a * (float(v["la_bass"]) - self._smooth_bass)
        v["la_level_smooth"] = self._smooth_level
        v["la_bass_smooth"] = self._smooth_bass
        # Energy: the engine's section energy (loudness against the usual level), smoothed.
        e = float(frame["energy"])
        target = min(max(e, 0.0), 1.0) if math.isfinite(e) else 0.0
        b = 1.0 - math.exp(-dt_s / 0.5) if dt_s > 0 else 1.0
        self._energy += b * (target - self._energy)
        v["la_energy"] = self._energy
        v["la_intensity"] = self.intensity
        v["la_crowd"] = self.crowd
        v["la_section"] = self.section
        h = self.history
        h[:, :-1] = h[:, 1:]
        h[0, -1] = float(v["la_level"])
        h[1, -1] = float(v["la_bass"])
        h[2, -1] = float(v["la_mid"])
        h[3, -1] = float(v["la_high"])
        h[4:, -1] = v["la_bands"]


def readme_table() -> str:
    """The README's table of audio uniforms (generated, kept in step by a test)."""
    rows = ["| Uniform | GLSL type | Meaning |", "|---|---|---|"]
    for name, gtype, meaning in AUDIO_UNIFORMS:
        rows.append(f"| `{name}` | `{gtype}` | {meaning} |")
    return "\n".join(rows)
