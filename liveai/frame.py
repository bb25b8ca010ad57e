"""The FeatureFrame contract and the shared-memory record that carries it between processes.

The engine is the only writer of the frame; each projector process writes only its own status
slot. The frame is guarded by a sequence counter (a seqlock): the writer makes the counter odd,
writes, makes it even again; a reader copies the frame between two reads of the counter and
retries when they differ or are odd, so a reader never sees a torn frame and the writer never waits.

Events are counters, never queues: a consumer notices a new event because a counter moved.

The record is a file in ``/dev/shm`` (or the temp folder) mapped by both processes, so a projector
on this machine needs only its path.

Memory ordering: the writer's stores (counter, frame, counter) and the reader's loads are separate
numpy calls, which neither compiler can reorder, and x86-64 keeps stores and loads in program
order (TSO). On weakly ordered CPUs (ARM) this needs explicit fences: liveai targets x86-64 today.
"""

from __future__ import annotations

import mmap
import os
import secrets
import threading
import time
from pathlib import Path

import numpy as np

from liveai.process import remove_stale, shm_dir

#: Bumped whenever the layout below changes; readers refuse a record of another version.
LAYOUT_VERSION = 5
MAGIC = b"LIVEAI\x00\x01"
N_BANDS = 8
N_ONSET_BANDS = 3
SPECTRUM_BINS = 512
WAVEFORM_SAMPLES = 512
MAX_PROJECTORS = 8

#: Source kinds reported in ``FeatureFrame.source_kind``.
SOURCE_KINDS = ("none", "device", "file", "demo")
#: Section codes in ``FeatureFrame.section`` (index = code).
SECTION_NAMES = ("unknown", "breakdown", "groove", "build", "drop")
#: Input states in ``FeatureFrame.input_state``.
INPUT_OK, INPUT_LOST, INPUT_ENDED = 0, 1, 2

FRAME_DTYPE = np.dtype(
    [
        ("frame_index", "<i8"),  # analysis frames published so far
        ("stream_time_samples", "<i8"),  # input samples consumed up to the end of this frame
        ("sample_rate_hz", "<i4"),
        ("hop_samples", "<i4"),
        ("rms_db", "<f4"),  # dBFS of the channel mean over the last hop, floor -120
        ("peak_db", "<f4"),  # dBFS sample peak over the last hop
        ("loudness_lufs", "<f4"),  # ITU-R BS.1770 short-term loudness (3 s), LUFS
        ("momentary_lufs", "<f4"),  # the same over 400 ms
        ("level", "<f4"),  # 0..1 display level, adaptive (30 dB below a falling peak .. peak)
        ("band_db", "<f4", (N_BANDS,)),  # log-spaced band energies, dBFS
        ("band_level", "<f4", (N_BANDS,)),  # 0..1 display levels of band_db, adaptive (40 dB)
        ("spectrum", "<f4", (SPECTRUM_BINS,)),  # 0..1, WebAudio's -100..-30 dB mapping
        ("waveform", "<f4", (WAVEFORM_SAMPLES,)),  # -1..1, the latest samples, mono
        ("chroma", "<f4", (12,)),  # pitch-class energy C..B, 0..1 (the strongest is 1)
        ("pitch_class", "<i4"),  # the strongest pitch class, 0 = C .. 11 = B; -1 in silence
        ("onset_strength", "<f4"),  # 0..1, overall spectral flux above its running level
        ("onset_count", "<i8"),  # overall onsets so far
        ("band_onset_strength", "<f4", (N_ONSET_BANDS,)),  # low (kick), mid (snare), high (hats)
        ("band_onset_count", "<i8", (N_ONSET_BANDS,)),
        ("tempo_bpm", "<f4"),  # 0 until the first estimate
        ("tempo_confidence", "<f4"),  # 0..1
        ("beat_count", "<i8"),  # beats fired so far (a new beat = the counter moved)
        ("beat_phase", "<f4"),  # 0 at a beat, rising to 1 at the predicted next beat
        ("next_beat_s", "<f4"),  # seconds from the end of this hop to the predicted next beat
        ("bar_count", "<i8"),  # downbeats so far
        ("beat_in_bar", "<i4"),  # 0 = downbeat .. beats_per_bar - 1; -1 until known
        ("beats_per_bar", "<i4"),  # the metre the tracker hears (3 or 4); 0 before any frame
        ("bar_phase", "<f4"),  # 0..1 through the bar
        ("energy", "<f4"),  # 0..1: loudness of the last second against the usual (30 s) level
        ("novelty", "<f4"),  # 0..1: change of the band profile, last 1 s vs the 4 s before
        ("section", "<i4"),  # 0 unknown, 1 breakdown, 2 groove, 3 build, 4 drop
        ("section_count", "<i8"),  # section changes so far (a new section = the counter moved)
        ("source_kind", "<i4"),  # index into SOURCE_KINDS
        ("input_state", "<i4"),  # INPUT_OK, INPUT_LOST (running on silence), INPUT_ENDED
        ("xruns", "<i8"),  # stream over/underflows reported by the audio driver
        ("overruns", "<i8"),  # blocks dropped because the analysis side fell behind
        ("silence_frames", "<i8"),  # frames of silence inserted while the device was lost
        ("nonfinite_samples", "<i8"),  # NaN/Inf input samples replaced by 0
    ],
    align=True,
)

STATUS_DTYPE = np.dtype(
    [
        ("pid", "<i8"),
        ("frames_rendered", "<i8"),
        ("heartbeat_ns", "<i8"),  # time.monotonic_ns() of the last rendered frame
        ("fps", "<f4"),
        ("width", "<i4"),
        ("height", "<i4"),
        ("quit_requested", "<i4"),  # the user closed the window
        ("scene_index", "<i4"),  # the scene on screen (the target, once a transition starts)
        ("scene_changes", "<i8"),  # scene changes so far (autopilot, keys, OSC)
    ],
    align=True,
)

_HEADER_DTYPE = np.dtype(
    [
        ("magic", "S8"),
        ("version", "<u4"),
        ("frame_nbytes", "<u4"),
        ("seq", "<u8"),
        ("engine_heartbeat_ns", "<i8"),
        ("stop_requested", "<u4"),
        ("n_status", "<u4"),
    ],
    align=True,
)
_HEADER_NBYTES = 64
assert _HEADER_DTYPE.itemsize <= _HEADER_NBYTES
_FRAME_OFFSET = _HEADER_NBYTES
_STATUS_OFFSET = _FRAME_OFFSET + ((FRAME_DTYPE.itemsize + 63) // 64) * 64
RECORD_NBYTES = _STATUS_OFFSET + MAX_PROJECTORS * STATUS_DTYPE.itemsize


def new_frame() -> np.ndarray:
    """Return one zeroed FeatureFrame (a 0-d structured array of FRAME_DTYPE)."""
    return np.zeros((), dtype=FRAME_DTYPE)


class SharedRecord:
    """The shared-memory record: one FeatureFrame under a seqlock plus projector status slots.

    Use :meth:`create` in the engine and :meth:`attach` in a projector.

    Parameters
    ----------
    path : pathlib.Path
        The backing file.
    owner : bool
        True in the process that created it (and unlinks it on :meth:`close`).
    """

    def __init__(self, path: Path, owner: bool) -> None:
        self.path = Path(path)
        self.owner = owner
        fd = os.open(self.path, os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            if size < RECORD_NBYTES:
                raise ValueError(
                    f"{self.path}: shared record is {size} bytes, expected {RECORD_NBYTES}"
                )
            self._mm = mmap.mmap(fd, RECORD_NBYTES)
        finally:
            os.close(fd)
        buf = memoryview(self._mm)
        self._header = np.ndarray((), _HEADER_DTYPE, buffer=buf, offset=0)
        self._frame = np.ndarray((), FRAME_DTYPE, buffer=buf, offset=_FRAME_OFFSET)
        self.status = np.ndarray(
            (MAX_PROJECTORS,), STATUS_DTYPE, buffer=buf, offset=_STATUS_OFFSET
        )
        self._seq = self._header["seq"]  # 0-d view: reading it always reads shared memory
        # A read lands in its thread's scratch frame first, so a failed read changes nothing and
        # two reader threads (Link, MIDI clock, OSC out) never copy into the same buffer.
        self._scratch = threading.local()
        if not owner:
            if bytes(self._header["magic"]) != MAGIC:
                raise ValueError(f"{self.path}: not a liveai shared record")
            if (int(self._header["version"]) != LAYOUT_VERSION
                    or int(self._header["frame_nbytes"]) != FRAME_DTYPE.itemsize):
                raise ValueError(
                    f"{self.path}: record layout {int(self._header['version'])}, "
                    f"this liveai reads layout {LAYOUT_VERSION}: engine and projector differ "
                    "in version"
                )

    @classmethod
    def create(cls) -> SharedRecord:
        """Create a fresh record file in ``/dev/shm`` and map it.

        Records left behind by engines that crashed (their pid is gone) are removed first.
        """
        folder = shm_dir()
        remove_stale(folder, "liveai-*-*.shm")
        path = folder / f"liveai-{os.getpid()}-{secrets.token_hex(4)}.shm"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd, RECORD_NBYTES)
        finally:
            os.close(fd)
        rec = cls(path, owner=True)
        rec._header["magic"] = MAGIC
        rec._header["version"] = LAYOUT_VERSION
        rec._header["frame_nbytes"] = FRAME_DTYPE.itemsize
        rec._header["n_status"] = MAX_PROJECTORS
        return rec

    @classmethod
    def attach(cls, path: str | Path) -> SharedRecord:
        """Map an existing record created by the engine."""
        return cls(Path(path), owner=False)

    # -- the frame (engine writes, projectors read) ------------------------------------------
    def publish(self, frame: np.ndarray) -> None:
        """Write one FeatureFrame; readers never see it half-written. Engine only."""
        shared, header = self._frame, self._header  # close() may drop them meanwhile
        if shared is None or header is None:  # closed: a stopping thread's late publish
            return
        seq = int(header["seq"])
        header["seq"] = seq + 1  # odd: write in progress
        shared[...] = frame
        header["seq"] = seq + 2  # even: consistent
        header["engine_heartbeat_ns"] = time.monotonic_ns()

    def read(self, out: np.ndarray, max_tries: int = 1000) -> int:
        """Copy the latest consistent frame into ``out``.

        Parameters
        ----------
        out : np.ndarray
            A 0-d array of FRAME_DTYPE, overwritten.
        max_tries : int
            Give up after this many torn reads (the writer would have to publish faster than
            a copy takes, which it never does at the hop rate).

        Returns
        -------
        int
            The sequence number of the frame read (even), or -1 when no consistent copy was made
            (``out`` then keeps what it had: the last good frame).
        """
        # Local references: close() from another thread drops the attributes, not the memory.
        local, frame, seq = self._scratch, self._frame, self._seq
        if seq is None or frame is None or local is None:  # closed: nothing new to read
            return -1
        scratch = getattr(local, "frame", None)
        if scratch is None:  # this thread's first read
            scratch = local.frame = new_frame()
        for _ in range(max_tries):
            s1 = int(seq)
            if s1 & 1:
                continue
            scratch[...] = frame
            if int(seq) == s1:
                out[...] = scratch
                return s1
        return -1

    @property
    def sequence(self) -> int:
        """The current sequence counter (even when no write is in progress; -1 once closed)."""
        seq = self._seq
        return -1 if seq is None else int(seq)

    @property
    def engine_heartbeat_ns(self) -> int:
        """``time.monotonic_ns()`` of the engine's last publish (0 once closed)."""
        header = self._header
        return 0 if header is None else int(header["engine_heartbeat_ns"])

    @property
    def stop_requested(self) -> bool:
        """True once the engine asks every projector to exit."""
        return bool(self._header["stop_requested"])

    def request_stop(self, stop: bool = True) -> None:
        """Ask the projectors to exit (engine only)."""
        self._header["stop_requested"] = 1 if stop else 0

    def close(self) -> None:
        """Unmap; the owner also removes the file."""
        self._header = self._frame = self.status = self._seq = None  # drop buffer exports
        self._scratch = None
        try:
            self._mm.close()
        except BufferError:  # a caller still holds a view; the OS frees it at exit
            pass
        if self.owner:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
