#!/usr/bin/env python3
r"""Train the beat tracker's metrical-level model (:mod:`liveai.analysis.level`).

Runs liveai's own streaming analysis over annotated audio (``NAME.wav`` + ``NAME.beats``) with
the level choice off, so the beat tracker reports its model's own pulse; at each of the
model's beats it records the accent patterns of the candidate levels (the model's pulse, its
off-beats, double it, half it on either parity) and which of them is the annotated beat (tempo
within 10 %, beats within a fifth of a beat of the annotation). A conditional logit (softmax
over the candidates of one moment) with a small MLP score (one tanh layer, L2-regularised,
Adam) learns to pick it. Files are weighted equally; the dry and hall renderings of one groove
stay in the same cross-validation fold.

The shipped model was made with (FluidSynth grooves, metronomes and the synthetic grooves;
``.cache/midi_test`` is held out)::

    S=scripts; P=.venv/bin/python
    $P $S/render_midi_grooves.py .cache/midi_train --count 96 --seed 1
    $P $S/render_midi_grooves.py .cache/midi_train2 --count 96 --seed 3
    $P $S/render_midi_grooves.py .cache/midi_click --count 48 --seed 5 --styles click
    $P $S/render_midi_grooves.py .cache/midi_test --count 48 --seed 2
    $P $S/render_grooves.py .cache/grooves
    $P $S/train_level.py --train .cache/midi_train --train .cache/midi_train2 \
        --train .cache/midi_click --train .cache/grooves --test .cache/midi_test \
        --folds 2 --l2 0.003 --write liveai/analysis/level_model.py

The analysis of each file is cached in ``.cache/level_inputs`` by file name and time: delete it
after changing the onset or rhythm detection functions.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import textwrap
from pathlib import Path

import numpy as np
import soundfile as sf

from liveai.analysis.level import CANDIDATES, N_FEATURES
from liveai.analysis.levels import LevelAnalyzer
from liveai.analysis.rhythm import BeatTracker, OnsetDetector
from liveai.frame import new_frame

HOP = 512
CACHE = Path(".cache/level_inputs")


def inputs(wav: Path) -> tuple[np.ndarray, int]:
    """Per hop: rhythm detection function, low, mid, high onset functions (cached)."""
    key = hashlib.sha1(f"{wav.resolve()}:{wav.stat().st_mtime_ns}".encode()).hexdigest()[:16]
    cached = CACHE / f"{key}.npz"
    if cached.is_file():
        d = np.load(cached)
        return d["x"], int(d["sr"])
    x, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    la = LevelAnalyzer(sr, HOP, 2048, x.shape[1])
    od = OnsetDetector(sr, 2048, HOP)
    frame = new_frame()
    rows = []
    for i in range(0, x.shape[0] - HOP + 1, HOP):
        la.process_hop(x[i : i + HOP], frame)
        od.process(la.history, frame)
        rows.append((od.rhythm_odf[0], od.odf[1], od.odf[2], od.odf[3]))
    out = np.array(rows)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cached, x=out, sr=sr)
    return out, sr


def moments(wav: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(candidate features, candidate is the annotated beat) at each of the model's beats."""
    x, sr = inputs(wav)
    ann = np.loadtxt(wav.with_suffix(".beats"), ndmin=2)[:, 0]
    bt = BeatTracker(sr, HOP, choose_level=False)
    bt.level_log = []
    frame = new_frame()
    for i in range(x.shape[0]):
        bt.process(float(x[i, 0]), float(x[i, 1]), frame, float(x[i, 2]), float(x[i, 3]))
    lo, hi = 0.95 * bt.bpm_range[0], 1.05 * bt.bpm_range[1]
    out = []
    for hop, bpm, slot, rows, admitted in bt.level_log:
        t = hop * HOP / sr
        k = int(np.searchsorted(ann, t))
        if k < 2 or k >= ann.size - 1:
            continue
        true_period = float(np.median(np.diff(ann[max(0, k - 4) : k + 4])))
        period = 60.0 / bpm
        ok = np.zeros(len(CANDIDATES), dtype=bool)
        valid = np.zeros(len(CANDIDATES), dtype=bool)
        for r, (ratio, parity, shift) in enumerate(CANDIDATES):
            valid[r] = lo <= ratio * bpm <= hi and admitted[r]
            t_beat = t if parity < 0 or (slot & 1) == parity else t - period
            t_beat -= shift * period  # the candidate's last beat before the model's
            near = float(np.min(np.abs(ann - t_beat)))
            ok[r] = (abs(ratio * bpm * true_period / 60.0 - 1.0) < 0.1
                     and near < 0.2 * true_period)
        if np.sum(ok & valid) == 1:
            out.append((rows[valid], ok[valid]))
    return out


def corpus(folders: list[Path]) -> list[tuple[str, str, list]]:
    """(file, groove id, moments) for every annotated file under the folders."""
    out = []
    for folder in folders:
        for wav in sorted(folder.rglob("*.wav")):
            if not wav.with_suffix(".beats").is_file():
                continue
            groove = re.sub(r"_(dry|hall)$", "", wav.stem)
            out.append((str(wav), f"{folder}/{groove}", moments(wav)))
            print(f"  {wav}: {len(out[-1][2])} moments", flush=True)
    return out


def _groups(data: list, mean: np.ndarray, std: np.ndarray):
    """Stack every moment's candidates: rows (n, d), moment index (n,), chosen (n,), weights."""
    rows, moment, chosen, weight = [], [], [], []
    m = 0
    for _, _, ms in data:
        if not ms:
            continue
        for r, ok in ms:
            rows.append((r - mean) / std)
            moment.append(np.full(len(r), m))
            chosen.append(ok)
            weight.append(1.0 / len(ms))
            m += 1
    return (np.concatenate(rows), np.concatenate(moment), np.concatenate(chosen),
            np.array(weight) / np.sum(weight))


def score_rows(z: np.ndarray, params: dict) -> np.ndarray:
    """The model's score of standardised rows (a small MLP: tanh hidden layer)."""
    return np.tanh(z @ params["W1"] + params["b1"]) @ params["w2"]


def fit(data: list, l2: float, hidden: int = 16, iters: int = 3000, seed: int = 0) -> dict:
    """Conditional logit over each moment's candidates with an MLP score (Adam, full batch)."""
    allrows = np.concatenate([r for _, _, ms in data for r, _ in ms])
    mean = allrows.mean(axis=0)
    std = np.maximum(allrows.std(axis=0), 1e-6)
    z, moment, chosen, weight = _groups(data, mean, std)
    n_m = weight.size
    rng = np.random.default_rng(seed)
    d = z.shape[1]
    params = {"W1": rng.normal(0.0, 1.0 / np.sqrt(d), (d, hidden)), "b1": np.zeros(hidden),
              "w2": rng.normal(0.0, 1.0 / np.sqrt(hidden), hidden)}
    adam = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
    lr, b1, b2 = 0.01, 0.9, 0.999
    for it in range(1, iters + 1):
        h = np.tanh(z @ params["W1"] + params["b1"])
        s = h @ params["w2"]
        # softmax within each moment
        smax = np.full(n_m, -np.inf)
        np.maximum.at(smax, moment, s)
        e = np.exp(s - smax[moment])
        den = np.zeros(n_m)
        np.add.at(den, moment, e)
        p = e / den[moment]
        g_s = (p - chosen) * weight[moment]  # d loss / d score
        grads = {"w2": h.T @ g_s + l2 * params["w2"]}
        g_h = np.outer(g_s, params["w2"]) * (1.0 - h * h)
        grads["W1"] = z.T @ g_h + l2 * params["W1"]
        grads["b1"] = g_h.sum(axis=0)
        for k, g in grads.items():
            m1, m2 = adam[k]
            m1 *= b1
            m1 += (1 - b1) * g
            m2 *= b2
            m2 += (1 - b2) * g * g
            params[k] -= lr * (m1 / (1 - b1 ** it)) / (np.sqrt(m2 / (1 - b2 ** it)) + 1e-8)
    params["mean"], params["std"] = mean, std
    return params


def accuracy(data: list, params: dict) -> tuple[float, dict]:
    """Share of moments (files weighted equally) where the model picks the annotated level."""
    per_file = {}
    for name, _, ms in data:
        if not ms:
            continue
        hits = [int(np.argmax(score_rows((r - params["mean"]) / params["std"], params))
                    == int(np.argmax(ok))) for r, ok in ms]
        per_file[name] = float(np.mean(hits))
    return float(np.mean(list(per_file.values()))), per_file


def write_model(path: Path, params: dict, note: str) -> None:
    """Write the weights as a Python module."""
    def arr(a: np.ndarray) -> str:
        flat = a.ravel()
        body = "".join("    " + ", ".join(f"{v:.7g}" for v in flat[i : i + 6]) + ",\n"
                       for i in range(0, flat.size, 6))
        return f"np.array([\n{body}]).reshape({a.shape})"
    about = textwrap.fill(f"Written by ``scripts/train_level.py`` ({note}); do not edit by hand.",
                          width=95)
    path.write_text(
        '"""Weights of the metrical-level model (:mod:`liveai.analysis.level`).\n\n'
        f'{about}\n"""\n\nimport numpy as np\n\n'
        f"MEAN = {arr(params['mean'])}\nSTD = {arr(params['std'])}\n"
        f"W1 = {arr(params['W1'])}\nB1 = {arr(params['b1'])}\nW2 = {arr(params['w2'])}\n")


def main() -> None:
    """Train, cross-validate by groove, test, and write the model."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=Path, action="append", required=True)
    ap.add_argument("--test", type=Path, action="append", default=[])
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--iters", type=int, default=3000)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--write", type=Path, default=None)
    args = ap.parse_args()
    train = corpus(args.train)
    test = corpus(args.test) if args.test else []
    assert train and train[0][2] and train[0][2][0][0].shape[1] == N_FEATURES
    grooves = sorted({g for _, g, _ in train})
    rng = np.random.default_rng(0)
    fold_of = {g: int(f) for g, f in zip(grooves, rng.permutation(len(grooves)) % args.folds,
                                            strict=True)}
    cv = []
    for f in range(args.folds):
        params = fit([d for d in train if fold_of[d[1]] != f], args.l2, args.hidden, args.iters)
        cv.append(accuracy([d for d in train if fold_of[d[1]] == f], params)[1])
    cv_all = {k: v for d in cv for k, v in d.items()}
    print(f"cross-validated accuracy (by groove, {args.folds} folds): "
          f"{np.mean(list(cv_all.values())):.3f}")
    params = fit(train, args.l2, args.hidden, args.iters)
    print(f"training accuracy: {accuracy(train, params)[0]:.3f}")
    if test:
        acc, per = accuracy(test, params)
        print(f"test accuracy: {acc:.3f}")
        for name, a in sorted(per.items()):
            if a < 0.9:
                print(f"  {name}: {a:.2f}")
    if args.write:
        note = (f"{len(train)} files from {', '.join(str(p) for p in args.train)}, "
                f"L2 {args.l2:g}, {args.hidden} hidden units, {args.iters} Adam steps")
        write_model(args.write, params, note)
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
