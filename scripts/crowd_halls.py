"""The crowd estimate in several simulated halls: its error per window of the show.

Each hall is a shoebox (``liveai.mixer.venue``) with the room mic 15-20 m from the PA and an RT60
of 1.2-2 s that drops when the audience fills the floor (at 28 s of a 50 s show), a crowd growing
from -40 to -15 dB relative to the music at the mic. The first hall is the venue test's. Printed
per hall: the largest crowd error (estimate minus truth, dB, by absolute value) at start-up
(15-22 s), once settled (from 22 s, outside the 15 s after the change), in the 15 s after the
change, and from 15 s on (the issue's gate); and how long after the change the estimate is back
within 2 dB for good.

Usage: ``NUMBA_CACHE_DIR=.cache/numba .venv/bin/python scripts/crowd_halls.py [--halls 0,1,2]
[--trace]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from liveai.mixer import AdaptiveMixer, MixerConfig, venue

SR = 48000
CHANGE_S = 28.0
DURATION_S = 50.0

#: name, hall, RT60 empty and full (s), seed of the rooms, seed of the music
HALLS = [
    ("test 30x20x10 18 m 1.6->1.0", venue.Hall(), 1.6, 1.0, 1, 5),
    ("40x25x12 17 m 2.0->1.3", venue.Hall(dims_m=(40.0, 25.0, 12.0), pa_m=(2.0, 12.5, 4.0),
                                          mic_m=(19.0, 14.0, 1.8),
                                          crowd_m=((10.0, 6.0, 1.6), (15.0, 18.0, 1.6),
                                                   (22.0, 10.0, 1.6), (28.0, 20.0, 1.6),
                                                   (33.0, 8.0, 1.6))), 2.0, 1.3, 2, 6),
    ("28x18x9 15 m 1.3->1.0", venue.Hall(dims_m=(28.0, 18.0, 9.0), pa_m=(2.0, 9.0, 4.0),
                                         mic_m=(17.0, 7.0, 1.8),
                                         crowd_m=((7.0, 4.0, 1.6), (11.0, 13.0, 1.6),
                                                  (15.0, 11.0, 1.6), (21.0, 5.0, 1.6),
                                                  (24.0, 14.0, 1.6))), 1.3, 1.0, 3, 7),
    ("36x24x11 20 m 1.8->1.1", venue.Hall(dims_m=(36.0, 24.0, 11.0), pa_m=(2.0, 12.0, 4.0),
                                          mic_m=(22.0, 14.0, 1.8),
                                          crowd_m=((9.0, 5.0, 1.6), (14.0, 18.0, 1.6),
                                                   (19.0, 9.0, 1.6), (26.0, 19.0, 1.6),
                                                   (31.0, 7.0, 1.6))), 1.8, 1.1, 4, 8),
    ("32x22x10 17 m 1.5->1.0", venue.Hall(dims_m=(32.0, 22.0, 10.0), pa_m=(2.0, 11.0, 4.0),
                                          mic_m=(18.0, 16.0, 1.8),
                                          crowd_m=((8.0, 6.0, 1.6), (12.0, 17.0, 1.6),
                                                   (17.0, 8.0, 1.6), (24.0, 18.0, 1.6),
                                                   (27.0, 5.0, 1.6))), 1.5, 1.0, 5, 9),
]


def windows(t: np.ndarray, err: np.ndarray, change_s: float) -> dict[str, float]:
    """The largest absolute error per window, dB, and the re-convergence time, s."""
    def worst(sel):
        return float(np.max(np.abs(err[sel]))) if np.any(sel) else float("nan")

    after = (t >= change_s) & (t < change_s + 15.0)
    late = np.nonzero(t >= change_s)[0]
    reconv = next((t[i] - change_s for i in late if np.all(np.abs(err[i:]) <= 2.0)),
                  float("inf"))
    return {"startup": worst((t >= 15.0) & (t < 22.0)),
            "settled": worst((t >= 22.0) & ~after),
            "change": worst(after),
            "from15": worst(t >= 15.0),
            "reconverge_s": reconv}


def main() -> None:
    """Run the halls asked for and print their crowd errors."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--halls", default="", help="comma-separated indices (default: all)")
    ap.add_argument("--trace", action="store_true", help="print the error every second")
    args = ap.parse_args()
    pick = [int(k) for k in args.halls.split(",")] if args.halls else range(len(HALLS))
    print(f"{'hall':30} {'15-22 s':>8} {'settled':>8} {'change':>8} {'from 15':>8} "
          f"{'back in':>8}")
    for k in pick:
        name, hall, rt_empty, rt_full, seed, music_seed = HALLS[k]
        hall = venue.Hall(dims_m=hall.dims_m, pa_m=hall.pa_m, mic_m=hall.mic_m,
                          crowd_m=hall.crowd_m, sample_rate_hz=SR)
        rooms, crowd = venue.make_rooms(hall, rt_empty, rt_full, seed)
        mixer = AdaptiveMixer(SR, 1024, 2, MixerConfig())
        t0 = time.perf_counter()
        run = venue.run_venue(mixer, rooms, crowd, duration_s=DURATION_S, change_s=CHANGE_S,
                              seed=10 + k, program=venue.music(int(DURATION_S * SR), SR, 2,
                                                               music_seed))
        err = run.crowd_est_db - run.crowd_true_db
        w = windows(run.times_s, err, CHANGE_S)
        print(f"{name:30} {w['startup']:8.2f} {w['settled']:8.2f} {w['change']:8.2f} "
              f"{w['from15']:8.2f} {w['reconverge_s']:7.1f}s   ({time.perf_counter() - t0:.0f} s)",
              flush=True)
        if args.trace:
            print("  " + " ".join(f"{t:.0f}:{e:+.1f}" for t, e in zip(run.times_s, err,
                                                                     strict=True)))


if __name__ == "__main__":
    main()
