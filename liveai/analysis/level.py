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

The numerics are kernels (:mod:`liveai.dsp.pulse_level`) that the beat tracker runs inside
its one compiled call per hop; the functions and the class here call the same kernels.
"""

from __future__ import annotations

import numpy as np

from liveai.analysis import level_model
from liveai.dsp import pulse_level as pl
from liveai.dsp.pulse_level import N_BANDS, N_FEATURES, N_FINE, N_SLOTS

#: Weight of the newest beat in each slot's running pattern (per visit, every 8 beats).
NEW_WEIGHT = 0.5
#: Candidate levels: (tempo ratio to the model's, parity of the model's beats that are its
#: beats (-1 for any), shift: 0.5 for the model's off-beats (a lock on off-beat hats or bass)).
CANDIDATES = ((1.0, -1, 0.0), (1.0, -1, 0.5), (2.0, -1, 0.0), (0.5, 0, 0.0), (0.5, 1, 0.0))
#: CANDIDATES as the kernels take them, (n_candidates, 3) float64.
CANDIDATE_ARRAY = np.array(CANDIDATES, dtype=np.float64)
#: A candidate's beats must carry at least this share of the activation on the model's own
#: beats (a faster level needs events on its new beats, an off-beat shift needs events there).
ADMIT = 0.6
#: Triple metre at the model's level (the low band on its beats repeats every 3, not every 2):
#: halving it would put beats across the bars. Memory per beat and the contrast needed.
METRE_DECAY = 0.95
TRIPLE_CONTRAST = 0.5
#: The level model's weights as the kernels take them: mean, std, w1, b1, w2.
MODEL = (level_model.MEAN, level_model.STD, level_model.W1, level_model.B1, level_model.W2)


def features(fine: np.ndarray, model_bpm: float) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows of every candidate in CANDIDATES and whether the accents admit it.

    Parameters
    ----------
    fine : np.ndarray, shape (N_SLOTS * N_FINE, N_BANDS)
        Peak per eighth of the model's beat over its last 8 beats (slot-major).
    model_bpm : float
        The model's tempo (the candidates' tempi are its multiples).

    Returns
    -------
    rows : np.ndarray, shape (len(CANDIDATES), N_FEATURES)
        Each candidate's pattern (4 beats × 4 bins × bands, each band divided by its mean,
        strongest beat first) and log2 of its BPM / 100 and that squared.
    admitted : np.ndarray, shape (len(CANDIDATES),), bool
        The candidate's beats carry at least ADMIT of the model's beats' activation.
    """
    return _features(np.ascontiguousarray(fine, dtype=np.float64).reshape(N_SLOTS, N_FINE,
                                                                          N_BANDS),
                     model_bpm, np.zeros(2), np.zeros(3))


def _features(hist: np.ndarray, model_bpm: float, metre2: np.ndarray,
              metre3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.zeros((len(CANDIDATES), N_FEATURES))
    admitted = np.zeros(len(CANDIDATES))
    pl.features(hist, CANDIDATE_ARRAY, float(model_bpm), ADMIT, TRIPLE_CONTRAST, metre2, metre3,
                np.zeros((4, 4, N_BANDS)), rows, admitted)
    return rows, admitted > 0.0


def scores(rows: np.ndarray) -> np.ndarray:
    """The model's score (log-odds up to a constant) that each row is the level people tap."""
    out = np.zeros(rows.shape[0])
    pl.scores(np.ascontiguousarray(rows, dtype=np.float64), *MODEL, out)
    return out


class LevelChooser:
    """Accent patterns over the model's last 8 beats, and the level they point to.

    Attributes
    ----------
    hist, peak : np.ndarray, shape (N_SLOTS, N_FINE, N_BANDS), float64
        The running pattern per slot, and the peaks of the beats in progress.
    visits : np.ndarray, shape (N_SLOTS,), int64
        Beats folded into each slot.
    count : np.ndarray, shape (1,), int64
        Beats of the model so far.
    metre2, metre3 : np.ndarray, shape (2,), (3,), float64
        The low band on the model's beats by position in cycles of 2 and 3 beats.

    The beat tracker's kernel updates these arrays in place, as the methods here do.
    """

    def __init__(self) -> None:
        self.hist = np.zeros((N_SLOTS, N_FINE, N_BANDS))
        self.peak = np.zeros((N_SLOTS, N_FINE, N_BANDS))
        self.visits = np.zeros(N_SLOTS, dtype=np.int64)
        self.count = np.zeros(1, dtype=np.int64)
        self.metre2 = np.zeros(2)
        self.metre3 = np.zeros(3)
        self.reset()

    def reset(self) -> None:
        """Forget every pattern."""
        for a in (self.hist, self.peak, self.visits, self.count, self.metre2, self.metre3):
            a[:] = 0

    @property
    def triple(self) -> bool:
        """The model's beats group in threes (their low band repeats every 3, not every 2)."""
        c3 = pl.contrast(self.metre3)
        return c3 > TRIPLE_CONTRAST and c3 > 2.0 * pl.contrast(self.metre2)

    @property
    def ready(self) -> bool:
        """Every slot has seen at least one whole beat."""
        return bool(np.all(self.visits > 0))

    def add(self, slot: int, frac: float, act: float, low: float, mid: float,
            high: float) -> None:
        """One hop at phase ``frac`` (0..1) of the model's beat in ``slot`` (0..7)."""
        pl.add(self.peak, slot, frac, act, low, mid, high)

    def end_beat(self, slot: int) -> None:
        """The model's beat in ``slot`` is over: fold its peaks into the running pattern."""
        pl.end_beat(self.hist, self.peak, self.visits, self.count, self.metre2, self.metre3,
                    slot, NEW_WEIGHT, METRE_DECAY)

    def features(self, model_bpm: float) -> tuple[np.ndarray, np.ndarray]:
        """Feature rows of the candidates and which the accents admit (see :func:`features`).

        In triple metre the half levels are not admitted.
        """
        return _features(self.hist, model_bpm, self.metre2, self.metre3)
