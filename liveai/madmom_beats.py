"""madmom's online beat tracker over wav files, for ``liveai bench analysis --madmom PYTHON``.

Runs under *another* interpreter — a virtualenv with madmom 0.16.1, which needs numpy < 1.24
(``scripts/setup_madmom.sh`` builds it) — so it imports nothing from liveai. Reads a JSON list of
wav paths on stdin and writes one JSON line per file to stdout::

    {"path": ..., "beats": [s, ...], "seconds": processing time}

The tracker is madmom's causal mode, as ``DBNBeatTracker online``: the unidirectional LSTM
ensemble over frames that end at the current sample (``RNNBeatProcessor(online=True)``, no
look-ahead), then the bar-pointer HMM's forward pass only (``DBNBeatTrackingProcessor(fps=100,
online=True)``): each beat is decided when its frame arrives, never revised.
"""

import json
import sys
import time
import warnings


def main():
    """Track every file named on stdin; one JSON line per file on stdout."""
    warnings.filterwarnings("ignore")  # pkg_resources and numpy deprecations inside madmom
    from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor

    for path in json.load(sys.stdin):
        # New processors for each file, as the command line tool runs once per file: madmom's
        # online signal chain keeps state across calls (after a float wav it misread int16 ones).
        rnn = RNNBeatProcessor(online=True, origin="online")
        dbn = DBNBeatTrackingProcessor(fps=100, online=True)
        t0 = time.perf_counter()
        beats = dbn(rnn(path), reset=True)
        sys.stdout.write(json.dumps({"path": path, "beats": [float(b) for b in beats],
                                     "seconds": time.perf_counter() - t0}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
