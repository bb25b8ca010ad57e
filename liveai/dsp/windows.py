"""Analysis windows shared by the level and onset kernels.

One window serves both: the level analyser's spectrum and the beat tracker's rhythm frame are
the same FFT (:class:`liveai.analysis.pipeline.FrameAnalyzer` computes it once per hop).
"""

from __future__ import annotations

import numpy as np


def onset_window(n: int) -> np.ndarray:
    """A window that leans on the newest samples, so a hit shows in the hop it arrives.

    A Hann window hides the last samples of a frame (its tail is near 0), which delays onsets
    by about a quarter window. This one rises over the first 3/4 and falls over the last 1/4:
    still smooth at both ends (no leakage from a hard edge), with its weight near "now".

    Its sum (n / 2) and sum of squares (3n / 8) are a Hann window's: each half is half of a
    Hann window. Its centre of mass is about 0.4 n back from the newest sample (Hann's: n / 2),
    and its sidelobes are higher than Hann's (-18 dB two bins out, -32 dB four bins out,
    below -50 dB from six bins out).

    Returns
    -------
    np.ndarray, shape (n,), float64
        Oldest sample first.
    """
    a = (3 * n) // 4
    b = n - a
    return np.concatenate([np.hanning(2 * a + 1)[:a], np.hanning(2 * b + 1)[b : 2 * b]])
