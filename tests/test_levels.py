"""Level analysis: known answers, whole-signal == streaming == any block size, bad samples."""

from __future__ import annotations

import numpy as np
import pytest

from liveai.analysis.levels import LevelAnalyzer
from liveai.audio.ring import SpscRing
from liveai.dsp.levels import FLOOR_DB, levels_offline, log_band_edges, spectrum_row
from liveai.frame import N_BANDS, new_frame

SR = 48000


def _stream(x: np.ndarray, hop: int = 512, n_fft: int = 2048, block: int | None = None):
    """Run x (n, channels) through a ring in blocks of ``block`` and the analyser hop by hop."""
    block = block or x.shape[0]
    an = LevelAnalyzer(SR, hop, n_fft)
    ring = SpscRing(max(4 * block, 2 * hop), x.shape[1])
    hop_buf = np.zeros((hop, x.shape[1]), dtype=np.float32)
    frame = new_frame()
    rms, bands, spectra = [], [], []
    pos = 0
    while pos < x.shape[0] or ring.read_available() >= hop:
        while pos < x.shape[0] and ring.write_available() >= min(block, x.shape[0] - pos):
            ring.write(x[pos : pos + block])
            pos += block
        while ring.read_available() >= hop:
            ring.read(hop_buf)
            an.process_hop(hop_buf, frame)
            rms.append(float(frame["rms_db"]))
            bands.append(frame["band_db"].copy())
            spectra.append(frame["spectrum"].copy())
    return np.array(rms), np.array(bands), np.array(spectra)


def test_full_scale_sine_reads_minus_3_dbfs_in_its_band():
    t = np.arange(SR) / SR
    _, _, edges = log_band_edges(SR, 2048, N_BANDS)
    for band in range(N_BANDS):
        f = float(np.sqrt(edges[band] * edges[band + 1]))  # geometric band centre
        amp = 0.5
        x = (amp * np.sin(2 * np.pi * f * t)).astype(np.float32)[:, None]
        rms, bands, _ = _stream(x)
        expected = 20 * np.log10(amp / np.sqrt(2))
        assert rms[10:].mean() == pytest.approx(expected, abs=0.05)
        assert np.median(bands[10:, band]) == pytest.approx(expected, abs=1.0), (band, f)
        # The lowest bands are a few FFT bins wide, so some energy leaks next door; beyond the
        # neighbours the window's sidelobes keep it far down.
        med = np.median(bands[10:], axis=0)
        for other in range(N_BANDS):
            if other != band:
                margin = 6.0 if abs(other - band) == 1 else 20.0
                assert med[other] < expected - margin, (band, other, med)


def test_silence_is_floored_and_nan_is_counted_not_propagated():
    x = np.zeros((SR // 2, 2), dtype=np.float32)
    x[1000:1010, 0] = np.nan
    x[2000, 1] = np.inf
    an = LevelAnalyzer(SR)
    frame = new_frame()
    hop = np.zeros((512, 2), dtype=np.float32)
    for i in range(0, x.shape[0] - 511, 512):
        hop[:] = x[i : i + 512]
        an.process_hop(hop, frame)
        assert np.isfinite(frame["rms_db"]) and np.all(np.isfinite(frame["band_db"]))
        assert np.all(np.isfinite(frame["spectrum"]))
    assert frame["rms_db"] == FLOOR_DB
    assert an.nonfinite_samples == 11 == int(frame["nonfinite_samples"])


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_mono_mix_zeroes_and_counts_nonfinite_samples(channels, rng):
    """Each channel count has its own loop: all give the mean with NaN/Inf as 0, and count them."""
    from liveai.dsp.levels import mix_to_mono

    x = rng.standard_normal((512, channels)).astype(np.float32)
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, 30, replace=False)] = np.array([np.nan, np.inf, -np.inf] * 10)
    out = np.zeros(512, np.float32)
    assert mix_to_mono(x, out) == 30
    want = np.where(np.isfinite(x), x, 0.0).astype(np.float64).sum(axis=1) / channels
    np.testing.assert_allclose(out, want.astype(np.float32), rtol=1e-7, atol=0)


def test_streaming_matches_whole_signal_reference(rng):
    x = (0.3 * rng.standard_normal(SR)).astype(np.float32)
    x[SR // 2 :] *= np.linspace(1, 0.01, SR - SR // 2, dtype=np.float32)
    rms, bands, _ = _stream(x[:, None])
    ref_rms, ref_bands = levels_offline(x.astype(np.float64), SR)
    np.testing.assert_allclose(rms, ref_rms, atol=1e-3)
    np.testing.assert_allclose(bands, ref_bands, atol=1e-3)


@pytest.mark.parametrize("block", [1, 64, 65, 8193])
def test_block_size_invariance(block, rng):
    x = (0.2 * rng.standard_normal((SR // 2, 2))).astype(np.float32)
    ref = _stream(x, block=512)
    got = _stream(x, block=block)
    for a, b in zip(ref, got, strict=True):
        np.testing.assert_array_equal(a, b)


def test_wrong_hop_shape_is_refused_before_the_kernels():
    an = LevelAnalyzer(SR, 512)
    frame = new_frame()
    for bad in (np.zeros((513, 2), np.float32), np.zeros((512, 2), np.float64),
                np.zeros((2, 512), np.float32).T, np.zeros(512, np.float32)):
        with pytest.raises(ValueError, match="hop must be"):
            an.process_hop(bad, frame)


@pytest.mark.parametrize("gain_db", [-36.0, -6.0])
def test_quiet_and_loud_rooms_both_span_the_display_range(gain_db):
    """Adaptive normalisation: the same groove at -36 dB or -6 dB drives levels alike."""
    from liveai.audio.demo import DemoGroove

    x = DemoGroove(SR, channels=1, level_db=-14.0 + gain_db + 6.0).read(SR * 20)
    an = LevelAnalyzer(SR)
    frame = new_frame()
    levels, bands = [], []
    for i in range(0, x.shape[0] - 511, 512):
        an.process_hop(np.ascontiguousarray(x[i : i + 512]), frame)
        if i > SR * 8:
            levels.append(float(frame["level"]))
            bands.append(frame["band_level"].copy())
    levels = np.array(levels)
    assert np.percentile(levels, 95) > 0.85 and np.percentile(levels, 5) < 0.75
    assert np.percentile(np.array(bands)[:, :3], 95) > 0.8  # the bass bands fill the range


def test_hiss_in_an_empty_room_stays_dark(rng):
    x = (10 ** (-85 / 20) * rng.standard_normal((SR * 5, 1))).astype(np.float32)
    an = LevelAnalyzer(SR)
    frame = new_frame()
    for i in range(0, x.shape[0] - 511, 512):
        an.process_hop(np.ascontiguousarray(x[i : i + 512]), frame)
    assert frame["level"] == 0.0 and np.all(frame["band_level"] < 0.1)


@pytest.mark.parametrize("sr", [44100, 48000, 96000])
def test_loudness_of_the_ebu_reference_sine(sr):
    """EBU Tech 3341 case 1: a stereo 1 kHz sine at -23 dBFS reads -23.0 LUFS (±0.1)."""
    t = np.arange(sr * 5) / sr
    s = (10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    x = np.stack([s, s], axis=1)
    an = LevelAnalyzer(sr, 512, 2048, channels=2)
    frame = new_frame()
    for i in range(0, x.shape[0] - 511, 512):
        an.process_hop(np.ascontiguousarray(x[i : i + 512]), frame)
    assert frame["loudness_lufs"] == pytest.approx(-23.0, abs=0.1)
    assert frame["momentary_lufs"] == pytest.approx(-23.0, abs=0.1)


def test_k_weighting_shapes_the_spectrum():
    """K-weighting per BS.1770: +0.70 dB at 1 kHz, +4.04 dB at 8 kHz, -13.3 dB at 20 Hz."""
    sr = 48000
    t = np.arange(sr * 4) / sr

    def lufs(freq):
        s = (0.1 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
        an = LevelAnalyzer(sr)
        frame = new_frame()
        for i in range(0, s.size - 511, 512):
            an.process_hop(np.ascontiguousarray(s[i : i + 512, None]), frame)
        return float(frame["loudness_lufs"])

    assert lufs(20.0) - lufs(1000.0) == pytest.approx(-13.3 - 0.70, abs=0.3)
    assert lufs(8000.0) - lufs(1000.0) == pytest.approx(4.04 - 0.70, abs=0.15)


def test_k_weighting_loops_agree_and_treat_nan_as_silence(rng):
    """The pair loop, the one-channel loop, and their unchecked variants (for hops the caller
    found finite) filter alike; a NaN or Inf counts as a 0 sample."""
    from liveai.dsp.loudness import k_weighted_energy, k_weighting

    coeffs = k_weighting(SR)
    x = (0.3 * rng.standard_normal((512, 2))).astype(np.float32)
    bad = x.copy()
    bad[[3, 100, 400], [0, 1, 0]] = [np.nan, np.inf, -np.inf]
    clean = np.where(np.isfinite(bad), bad, 0.0).astype(np.float32)
    want = np.zeros(2)
    k_weighted_energy(clean, coeffs, np.zeros((2, 2, 2)), want, True)
    got = np.zeros(2)
    k_weighted_energy(bad, coeffs, np.zeros((2, 2, 2)), got, False)
    np.testing.assert_array_equal(got, want)
    for ch in range(2):
        one = np.zeros(1)
        k_weighted_energy(np.ascontiguousarray(bad[:, ch : ch + 1]), coeffs, np.zeros((1, 2, 2)),
                          one, False)
        assert one[0] == want[ch]


def test_chroma_names_the_notes():
    t = np.arange(SR * 2) / SR

    def run(freqs):
        x = np.zeros_like(t) + sum(np.sin(2 * np.pi * f * t) for f in freqs) * 0.2
        an = LevelAnalyzer(SR)
        frame = new_frame()
        for i in range(0, x.size - 511, 512):
            an.process_hop(np.ascontiguousarray(x[i : i + 512, None], dtype=np.float32), frame)
        return frame

    frame = run([440.0])  # A4
    assert int(frame["pitch_class"]) == 9 and frame["chroma"][9] == 1.0
    frame = run([261.63, 329.63, 392.0, 523.25])  # C major: C4 E4 G4 C5
    top3 = set(np.argsort(frame["chroma"])[-3:].tolist())
    assert top3 == {0, 4, 7}
    silent = run([])
    assert int(silent["pitch_class"]) == -1


@pytest.mark.parametrize("sr", [44100, 48000])
def test_chroma_names_every_semitone_even_detuned(sr, rng):
    """One frame of a sine, any semitone from A2 to D8, up to 40 cents off: its pitch class."""
    from liveai.dsp.levels import chroma
    from liveai.dsp.windows import onset_window

    n_fft = 2048
    bin_hz = sr / n_fft
    lo, hi = int(100.0 / bin_hz), int(5000.0 / bin_hz)
    t = np.arange(n_fft) / sr
    out = np.zeros(12, np.float32)
    scratch = np.zeros((3, hi - lo + 2))
    for midi in range(45, 111):
        for cents in (-40.0, -20.0, 0.0, 20.0, 40.0):
            f = 440.0 * 2.0 ** ((midi - 69 + cents / 100.0) / 12.0)
            x = rng.uniform(1e-3, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
            mag = np.abs(np.fft.rfft(x * onset_window(n_fft)))
            chroma(mag, bin_hz, lo, hi, 0.0, np.zeros(12), out, scratch)
            assert int(np.argmax(out)) == midi % 12, (midi, cents)


def test_spectrum_row_is_webaudios_mapping():
    """|X|/N in dB, -100..-30 dB onto 0..1 (WebAudio's AnalyserNode), clipped; silence is 0.

    Covers the shortcut that clips far-out bins without a logarithm: values just inside and
    just outside both ends map as the formula says.
    """
    n_fft = 2048
    db = np.concatenate([[-np.inf], np.linspace(-150.0, 10.0, 500),
                         [-100 - 1e-6, -100 + 1e-6, -30 - 1e-6, -30 + 1e-6, -100.0, -30.0]])
    mag = n_fft * 10 ** (db / 20)
    out = np.zeros(db.size, np.float32)
    spectrum_row(mag, float(n_fft), 0.0, np.zeros(db.size), -100.0, -30.0, out)
    np.testing.assert_allclose(out, np.clip((db + 100) / 70, 0, 1), atol=1e-6)
    assert out[0] == 0.0 and out[-1] == 1.0


def test_fast_logarithms_are_within_one_ulp_of_numpys(rng):
    """The vectorising logarithms of the spectrum row and the onset flux round like libm's."""
    from liveai.dsp import fastlog

    x = np.concatenate([10.0 ** rng.uniform(-300, 300, 200_000), rng.uniform(0.5, 2.0, 100_000),
                        1.0 + rng.uniform(-1e-6, 1e-6, 10_000), [fastlog.TINY, 0.5, 1.0, 2.0]])
    got = np.empty_like(x)
    fastlog.log_array(x, got)
    want = np.log(x)
    assert np.all(np.abs(got - want) <= np.spacing(np.abs(want)))
    y = np.concatenate([10.0 ** rng.uniform(-20, 6, 200_000), [0.0, 1e-300, 1e-17]])
    fastlog.log1p_array(y, got[: y.size])
    want = np.log1p(y)
    assert np.all(np.abs(got[: y.size] - want) <= np.spacing(np.maximum(np.abs(want), 1e-300)))


def test_pipeline_computes_the_shared_fft_once_with_the_same_results():
    """FrameAnalyzer's onset detector reads the level analyser's spectrum (one 2048-point FFT
    per hop): every level and onset field, and the beat tracker's detection function, are
    exactly what the two analysers compute alone, each with its own FFT."""
    from liveai.analysis.onsets import OnsetDetector
    from liveai.analysis.pipeline import FrameAnalyzer
    from liveai.audio.demo import DemoGroove

    sr = 44100
    x = DemoGroove(sr, channels=2).read(sr * 6)
    fa = FrameAnalyzer(sr, 512, 2048, channels=2)
    levels = LevelAnalyzer(sr, 512, 2048, channels=2)
    onsets = OnsetDetector(sr, 2048, 512)
    fused, alone = new_frame(), new_frame()
    for i in range(0, x.shape[0] - 511, 512):
        hop = np.ascontiguousarray(x[i : i + 512])
        fa.process_hop(hop, fused)
        levels.process_hop(hop, alone)
        onsets.process(levels.history, alone)
        np.testing.assert_array_equal(fa.onsets.rhythm_odf, onsets.rhythm_odf)
        np.testing.assert_array_equal(fa.onsets.odf, onsets.odf)
        for name in ("band_db", "spectrum", "chroma", "onset_count", "band_onset_count",
                     "onset_strength"):
            np.testing.assert_array_equal(fused[name], alone[name], err_msg=name)
    assert int(alone["onset_count"]) > 10


def test_onset_detector_refuses_a_spectrum_of_another_frame():
    from liveai.analysis.onsets import OnsetDetector

    for bad in (np.zeros(513, np.complex128), np.zeros(1025, np.complex64),
                np.zeros(2050, np.complex128)[::2]):
        with pytest.raises(ValueError, match="rhythm_spectrum"):
            OnsetDetector(SR, 2048, 512, rhythm_spectrum=bad)


def test_the_frame_window_keeps_hanns_sums():
    """The level analyser's window (onset_window) sums to n/2 with squares summing to 3n/8,
    exactly, as a Hann window's: a sine reads the same level and spectrum row through it, and
    the spectrum row's 1/(2 sum(w)) is an exact power of two."""
    from liveai.dsp.windows import onset_window

    for n in (512, 1024, 2048, 4096, 8192):
        w = onset_window(n)
        assert w.shape == (n,) and float(np.sum(w)) == n / 2
        assert float(np.sum(w**2)) == pytest.approx(3 * n / 8, rel=1e-12)
