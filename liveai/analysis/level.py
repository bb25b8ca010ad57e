"""Which pulse is the beat: the metrical level of the beat tracker's lock, from its accents.

The beat-pointer model locks to the most regular pulse in the music. In a syncopated groove
that is often the eighth notes (a hip-hop groove at 90 BPM heard at 180, a one-drop at 75
heard at 150), while people tap the slower pulse; in drum & bass at 174 they tap the fast
one. Both grooves look alike in tempo; what tells them apart is where the accents fall (in
drum & bass the snare lands on every other beat of 174, in hip-hop on every fourth eighth).

:class:`LevelChooser` keeps, for the last 8 beats of the model, the peak of four detection
functions (the beat activation, low, mid and high band onsets) in each eighth of a beat. From
it, each candidate level (the model's pulse, its off-beats, twice it, half it on either
parity) gets a pattern: 4 of its beats × 4 bins per beat × 4 bands, each band relative to its
mean, rotated so that its strongest beat comes first, plus where its tempo lies (log2 of
BPM / 100). A small neural network (one tanh layer) scores how much each pattern looks like
the beat people tap. It was trained by ``scripts/train_level.py`` on annotated grooves and
metronomes rendered through FluidSynth (``scripts/render_midi_grooves.py``) and the synthetic
grooves of ``scripts/render_grooves.py``; its weights are in :mod:`liveai.analysis.level_model`.
"""

from __future__ import annotations

import math

import numpy as np

from liveai.analysis import level_model

#: Beats of the model kept, bins per beat, detection functions.
N_SLOTS = 8
N_FINE = 8
N_BANDS = 4
#: Weight of the newest beat in each slot's running pattern (per visit, every 8 beats).
NEW_WEIGHT = 0.5
#: Candidate levels: (tempo ratio to the model's, parity of the model's beats that are its
#: beats (-1 for any), shift: 0.5 for the model's off-beats (a lock on off-beat hats or bass)).
CANDIDATES = ((1.0, -1, 0.0), (1.0, -1, 0.5), (2.0, -1, 0.0), (0.5, 0, 0.0), (0.5, 1, 0.0))
#: Features: the pattern (4 beats × 4 bins × N_BANDS) and the tempo's place.
N_FEATURES = 4 * 4 * N_BANDS + 2
#: A candidate's beats must carry at least this share of the activation on the model's own
#: beats (a faster level needs events on its new beats, an off-beat shift needs events there).
ADMIT = 0.6
#: Triple metre at the model's level (the low band on its beats repeats every 3, not every 2):
#: halving it would put beats across the bars. Memory per beat and the contrast needed.
METRE_DECAY = 0.95
TRIPLE_CONTRAST = 0.5


def contrast(e: np.ndarray) -> float:
    """How far a cycle's strongest position stands out: (max - mean) / mean, 0 if empty."""
    m = float(np.mean(e))
    return (float(np.max(e)) - m) / m if m > 1e-12 else 0.0


def tempo_features(bpm: float) -> tuple[float, float]:
    """Where a tempo lies: log2(BPM / 100) and its square."""
    t = math.log2(max(bpm, 1e-3) / 100.0)
    return t, t * t


def _windows(ratio: float, parity: int, shift: float) -> np.ndarray:
    """Fine-bin indices of a candidate's bins: (groups of 4 beats, 4 beats, 4 bins, window)."""
    n = N_SLOTS * N_FINE
    beat_len = int(round(N_FINE / ratio))  # fine bins per candidate beat: 8, 4 or 16
    width = beat_len // 4
    half = width // 2
    offset = N_FINE * parity if ratio < 1.0 else int(round(N_FINE * shift))
    n_beats = n // beat_len
    m = np.arange(n_beats)[:, None, None]
    i = np.arange(4)[None, :, None]
    w = np.arange(-half, half + 1)[None, None, :]
    idx = (offset + m * beat_len + i * width + w) % n
    return idx.reshape(n_beats // 4, 4, 4, 2 * half + 1)


_WINDOWS: dict[tuple[float, int, float], np.ndarray] = {}


def pattern(fine: np.ndarray, ratio: float, parity: int,
            shift: float = 0.0) -> tuple[np.ndarray, float]:
    """The accent pattern of one candidate level.

    Parameters
    ----------
    fine : np.ndarray, shape (N_SLOTS * N_FINE, N_BANDS)
        Peak per eighth of the model's beat over its last 8 beats (slot-major).
    ratio : float
        The candidate's tempo / the model's: 0.5, 1 or 2.
    parity : int
        For ratio 0.5, which of the model's beats (0 even, 1 odd) are the candidate's beats.
    shift : float
        Beats of the model the candidate's beats come after the model's (0 or 0.5).

    Returns
    -------
    pattern : np.ndarray, shape (4 * 4 * N_BANDS,)
        4 beats × 4 bins × bands, each band divided by its mean, strongest beat first.
    strength : float
        Mean activation peak on the candidate's beats.
    """
    key = (ratio, parity, shift)
    idx = _WINDOWS.get(key)
    if idx is None:
        idx = _WINDOWS[key] = _windows(ratio, parity, shift)
    # Each bin: the peak over its window of eighths; each beat: the mean over the groups.
    out = fine[idx].max(axis=3).mean(axis=0)  # (4 beats, 4 bins, bands)
    strength = float(out[:, 0, 0].mean())
    mean = out.mean(axis=(0, 1))
    out /= np.maximum(mean, 1e-9)
    first = int(np.argmax(out[:, 0, 0]))  # the beat with the strongest activation
    return np.roll(out, -first, axis=0).ravel(), strength


def features(fine: np.ndarray, model_bpm: float) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows of every candidate in CANDIDATES and whether the accents admit it.

    Returns
    -------
    rows : np.ndarray, shape (len(CANDIDATES), N_FEATURES)
    admitted : np.ndarray, shape (len(CANDIDATES),), bool
        The candidate's beats carry at least ADMIT of the model's beats' activation.
    """
    rows = np.zeros((len(CANDIDATES), N_FEATURES))
    strength = np.zeros(len(CANDIDATES))
    for r, (ratio, parity, shift) in enumerate(CANDIDATES):
        rows[r, :-2], strength[r] = pattern(fine, ratio, max(parity, 0), shift)
        rows[r, -2:] = tempo_features(ratio * model_bpm)
    return rows, strength >= ADMIT * strength[0]


def scores(rows: np.ndarray) -> np.ndarray:
    """The model's score (log-odds up to a constant) that each row is the level people tap."""
    z = (rows - level_model.MEAN) / level_model.STD
    return np.tanh(z @ level_model.W1 + level_model.B1) @ level_model.W2


class LevelChooser:
    """Accent patterns over the model's last 8 beats, and the level they point to."""

    def __init__(self) -> None:
        self._hist = np.zeros((N_SLOTS, N_FINE, N_BANDS))
        self._peak = np.zeros((N_SLOTS, N_FINE, N_BANDS))
        self._visits = np.zeros(N_SLOTS, dtype=np.int64)
        self._metre = {2: np.zeros(2), 3: np.zeros(3)}
        self.reset()

    def reset(self) -> None:
        """Forget every pattern."""
        self._hist[:] = 0.0
        self._peak[:] = 0.0
        self._visits[:] = 0
        self._beats = 0
        for e in self._metre.values():
            e[:] = 0.0

    @property
    def triple(self) -> bool:
        """The model's beats group in threes (their low band repeats every 3, not every 2)."""
        c3, c2 = contrast(self._metre[3]), contrast(self._metre[2])
        return c3 > TRIPLE_CONTRAST and c3 > 2.0 * c2

    @property
    def ready(self) -> bool:
        """Every slot has seen at least one whole beat."""
        return bool(np.all(self._visits > 0))

    def add(self, slot: int, frac: float, act: float, low: float, mid: float,
            high: float) -> None:
        """One hop at phase ``frac`` (0..1) of the model's beat in ``slot`` (0..7)."""
        j = int(frac * N_FINE + 0.5)
        if j >= N_FINE:  # the last sixteenth belongs to the next beat's first bin
            j -= N_FINE
            slot = (slot + 1) % N_SLOTS
        p = self._peak[slot, j]
        if act > p[0]:
            p[0] = act
        if low > p[1]:
            p[1] = low
        if mid > p[2]:
            p[2] = mid
        if high > p[3]:
            p[3] = high

    def end_beat(self, slot: int) -> None:
        """The model's beat in ``slot`` is over: fold its peaks into the running pattern."""
        self._beats += 1
        for n, e in self._metre.items():
            e *= METRE_DECAY
            e[self._beats % n] += self._peak[slot, 0, 1]  # the low band (kick, bass) on the beat
        if self._visits[slot] == 0:
            self._hist[slot] = self._peak[slot]
        else:
            self._hist[slot] += NEW_WEIGHT * (self._peak[slot] - self._hist[slot])
        self._peak[slot] = 0.0
        self._visits[slot] += 1

    def features(self, model_bpm: float) -> tuple[np.ndarray, np.ndarray]:
        """Feature rows of the candidates and which the accents admit (see :func:`features`).

        In triple metre the half levels are not admitted.
        """
        rows, admitted = features(self._hist.reshape(N_SLOTS * N_FINE, N_BANDS), model_bpm)
        if self.triple:
            admitted &= np.array([c[0] != 0.5 for c in CANDIDATES])
        return rows, admitted
