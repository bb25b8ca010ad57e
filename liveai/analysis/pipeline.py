"""One hop of the whole analysis: levels, onsets and sections, then beats, into one FeatureFrame.

Levels, onsets (with the beat tracker's detection function), sections and beats run in one
compiled call per hop (:func:`_frame_hop`), each analyser's kernel writing its fields of the
record. Sections read only level and onset fields, so running them before the beats changes
nothing they report.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from liveai.analysis import levels as level_analysis
from liveai.analysis import onsets as onset_analysis
from liveai.analysis import rhythm as rhythm_analysis
from liveai.analysis import sections as section_analysis
from liveai.analysis.levels import LevelAnalyzer
from liveai.analysis.onsets import OnsetDetector
from liveai.analysis.rhythm import BeatTracker
from liveai.analysis.sections import SECTION_NAMES, SectionTracker
from liveai.dsp import beathop, beatstate, levels, loudness, rhythm
from liveai.dsp.kernel_args import KernelArgs
from liveai.frame import new_frame


def warm_up() -> float:
    """Compile (or load from numba's cache) every analysis kernel; return the seconds taken."""
    t0 = time.perf_counter()
    levels.warm_up()
    loudness.warm_up()
    level_analysis.warm_up()  # the analysers' own kernels, which read and write the frame
    onset_analysis.warm_up()
    section_analysis.warm_up()
    rhythm_analysis.warm_up()
    rhythm.warm_up()
    beatstate.warm_up()
    fa = FrameAnalyzer(48000, 512, 2048)  # the one call per hop that runs them all
    fa.process_hop(np.zeros((512, 1), dtype=np.float32), new_frame())
    return time.perf_counter() - t0


class FrameAnalyzer:
    """The streaming analysis the engine and ``liveai analyze`` both run, hop by hop.

    Parameters
    ----------
    sample_rate_hz : int
    hop_length : int
    n_fft : int
    channels : int
        Channels of each hop (loudness weighs every channel, as BS.1770 does); buffers are
        resized on the first hop if it differs.
    """

    def __init__(self, sample_rate_hz: int, hop_length: int = 512, n_fft: int = 2048,
                 channels: int = 1) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self.hop_length = int(hop_length)
        self.levels = LevelAnalyzer(sample_rate_hz, hop_length, n_fft, channels)
        # The level kernel runs first in each hop and leaves the rhythm frame's spectrum in
        # levels.spec: the detector reads it instead of computing the same FFT again.
        self.onsets = OnsetDetector(sample_rate_hz, n_fft, hop_length,
                                    rhythm_spectrum=self.levels.spec)
        self.beats = BeatTracker(sample_rate_hz, hop_length)
        self.sections = SectionTracker(sample_rate_hz, hop_length)
        self._history = self.levels.history  # the onsets read the level analyser's samples
        self._bind()

    def _bind(self) -> None:
        """Gather every analyser's kernel arguments into the one object the hop call takes."""
        self._level_args = self.levels.kernel_args
        self._args = KernelArgs((self._level_args, self.onsets.kernel_args,
                                 self.sections.kernel_args, self.beats.kernel_args,
                                 self._history, self.onsets.odf))

    @property
    def latency_samples(self) -> int:
        """Most samples between a hit in the audio and the end of the hop that reports it."""
        return self.onsets.latency_samples

    @property
    def nonfinite_samples(self) -> int:
        """NaN/Inf input samples replaced by silence so far."""
        return self.levels.nonfinite_samples

    def reset(self) -> None:
        """Forget all history."""
        self.levels.reset()
        self.onsets.reset()
        self.beats.reset()
        self.sections.reset()

    def process_hop(self, hop: np.ndarray, frame: np.ndarray) -> None:
        """Analyse one hop and fill ``frame``.

        Parameters
        ----------
        hop : np.ndarray, shape (hop_length, channels), float32, C-contiguous
        frame : np.ndarray
            A 0-d FRAME_DTYPE array.
        """
        self.levels.check_hop(hop)
        if self.levels.kernel_args is not self._level_args:  # resized for a channel count
            self._bind()
        code = _frame_hop(hop, frame, self._args)
        self.beats.finish_hop(code, frame)  # an external clock's hop (rare)


# numba's cache checks only the file a function is defined in: after editing a kernel this one
# calls (in dsp/ or another analysis module), or the beat tracker's state tables
# (dsp/beathop.py: STATE_NAMES, CFG_NAMES, compiled in as constants), clear NUMBA_CACHE_DIR, or
# this call keeps the old code. (The same holds for every kernel that calls into another module.)
@njit(cache=True, nogil=True)
def _frame_hop(hop, frame, args):  # pragma: no cover - compiled
    """Levels, onsets, sections and beats of one hop in one compiled call, each writing ``frame``.

    Parameters
    ----------
    hop : float32 (hop_length, channels)
    frame : 0-d FRAME_DTYPE array
    args : KernelArgs
        Holds (level_args, onset_args, section_args, beat_args, history, odf):
        :attr:`LevelAnalyzer.kernel_args`, :attr:`OnsetDetector.kernel_args`,
        :attr:`SectionTracker.kernel_args`, :attr:`BeatTracker.kernel_args`; the level
        analyser's last ``n_fft`` mono samples (which its kernel updates first), float64
        (n_fft,); :attr:`OnsetDetector.odf`, this hop's onset functions (overall, low, mid,
        high), float64 (4,).

    Returns
    -------
    int
        The beat tracker's code (:func:`liveai.analysis.rhythm._beat_hop`): pass it to
        :meth:`BeatTracker.finish_hop`.
    """
    level_args, onset_args, section_args, beat_args, history, odf = args.args
    level_analysis._level_hop(hop, frame, *level_args)
    onset_value, low_value = onset_analysis._onset_hop(history, frame, *onset_args)
    section_analysis._section_hop(frame, *section_args)
    # The beat tracker's hop as rhythm_analysis._beat_hop runs it, spelled out here: numba
    # optimises every compiled call again with all it calls, and through that one more
    # wrapper the first start (a cold cache) took 7 s longer.
    code = beathop.beat_hop(*beat_args, onset_value, low_value, odf[2], odf[3],
                            float(frame[()].rms_db))
    if code != beathop.HOP_EXTERNAL:
        rhythm_analysis._write(frame, beat_args[0], beat_args[1])
    return code


@njit(cache=True, nogil=True)
def _event_fields(frame):  # pragma: no cover - compiled
    """The fields :class:`EventLog` reads, in one call.

    Six field reads from Python, each with its conversion, cost more than the rest of its work.
    """
    r = frame[()]
    return (r.stream_time_samples, r.onset_count, r.beat_count, r.bar_count, r.section_count,
            r.section, float(r.tempo_bpm))


class EventLog:
    """Collects the events a stream of FeatureFrames announces (counters that moved).

    Times are seconds from the start of the stream: a beat or downbeat at the end of the hop
    that fired it (the moment a live show sees it, no hindsight), an onset at the middle of the
    hop that reported it (for a hit in a hop's last milliseconds, that is the next hop).
    """

    def __init__(self, sample_rate_hz: int, hop_length: int) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self.hop_length = int(hop_length)
        self.beats: list[float] = []
        self.downbeats: list[float] = []
        self.onsets: list[float] = []
        self.tempi_bpm: list[float] = []
        self.sections: list[dict] = []
        self._beat = self._bar = self._onset = self._section = 0

    def add(self, frame: np.ndarray) -> None:
        """Record what ``frame`` announces."""
        samples, onset, beat, bar, section_count, section, tempo_bpm = _event_fields(frame)
        t_end = samples / self.sample_rate_hz
        if onset != self._onset:
            self._onset = onset
            self.onsets.append(t_end - 0.5 * self.hop_length / self.sample_rate_hz)
        if beat != self._beat:
            self._beat = beat
            self.beats.append(t_end)
        if bar != self._bar:
            self._bar = bar
            self.downbeats.append(t_end)
        if section_count != self._section:
            self._section = section_count
            self.sections.append({"time": round(t_end, 4), "section": SECTION_NAMES[section]})
        if tempo_bpm > 0:
            self.tempi_bpm.append(tempo_bpm)

    @property
    def bpm(self) -> float:
        """The tempo the tracker held most of the time (median of its estimates), 0 if none."""
        return float(np.median(self.tempi_bpm)) if self.tempi_bpm else 0.0

    def as_dict(self) -> dict:
        """The ``liveai analyze --json`` object."""
        r = lambda ts: [round(t, 4) for t in ts]  # noqa: E731
        return {"bpm": round(self.bpm, 2), "beats": r(self.beats), "downbeats": r(self.downbeats),
                "onsets": r(self.onsets), "sections": list(self.sections)}
