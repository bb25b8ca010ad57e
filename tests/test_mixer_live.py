"""The adaptive mixer in the live PA path: a duplex JACK stream through the engine's chain."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
from conftest import replace_audio, wait_for_ports, wait_until
from scipy import signal

from liveai.app import Engine, build_source
from liveai.config import MixerConfig, ShowConfig, load_show
from liveai.errors import ConfigError
from liveai.mixer.live import LiveMixer
from liveai.params import engine_store

SR = 48000
CEILING = 10.0 ** (-1.0 / 20.0)  # mixer.ceiling_db default


def _config(**mixer) -> ShowConfig:
    config = replace_audio(ShowConfig(), source="device", input="system", duplex=True,
                           block_size=256, input_channels=[1])
    m = MixerConfig(enabled=True, mic_channel=2, auto_eq=False, crowd_comp=False, **mixer)
    return dataclasses.replace(config, mixer=m)


def _gain_at(live: LiveMixer, freq_hz: float) -> float:
    """Linear gain of the chain's EQ (the coefficients in force) and static gain at freq_hz."""
    sos = live.mixer.autoeq.coefs()[:, [0, 1, 2]]
    sos = np.c_[sos, np.ones(len(sos)), live.mixer.autoeq.coefs()[:, 3:5]]
    _, h = signal.sosfreqz(sos, worN=[freq_hz], fs=SR)
    return float(np.abs(h[0])) * 10.0 ** (live.mixer.gain_db / 20.0)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def _advance(live: LiveMixer, seconds: float, what: str) -> None:
    """Wait until the callback has run ``seconds`` more of audio through the chain."""
    start = int(live.counts[0])
    blocks = int(seconds * SR / 256)
    wait_until(lambda: int(live.counts[0]) >= start + blocks, 30, what)


@pytest.mark.jack
def test_duplex_chain_gain_bypass_and_ceiling(jack_server, jack_peer, tmp_path, caplog):
    """Known tone in: the output is the tone times the set EQ/gain, then the dry tone under
    bypass, then limited under the ceiling when a band pushes it over."""
    caplog.set_level(logging.INFO, logger="liveai.mixer.live")
    server = jack_server(period_frames=1024)
    config = _config(gain_db=-6.0)
    engine = Engine(config, build_source(config), projector=False)
    live = engine.live_mixer
    assert live is not None
    band = int(np.argmin(np.abs(np.log(live.mixer.autoeq.band_freqs_hz / 1000.0))))
    engine.params.set(f"/liveai/mixer/band/{band}/gain_db", 4.0)  # a hand-set band near 1 kHz
    rec = tmp_path / "out.npy"
    engine.start()
    try:
        ins = wait_for_ports(server, "PortAudio:in", 2)
        outs = wait_for_ports(server, "PortAudio:out", 1)
        peer = jack_peer(server, "playrec", str(rec), outs[0], ins[0], ins[1])
        wait_until(lambda: live.mixer.autoeq.applied_db()[band] == 4.0, 10, "the manual band")
        want_a = _gain_at(live, 1000.0)
        _advance(live, 1.0, "a second through the EQ")
        engine.params.set("/liveai/mixer/bypass", True)
        wait_until(lambda: live.mixer.bypassed, 10, "bypass")
        _advance(live, 1.0, "a second in bypass")
        engine.params.set("/liveai/mixer/bypass", False)
        engine.params.set(f"/liveai/mixer/band/{band}/gain_db", 24.0)  # 0.25 * ~+18 dB: over
        wait_until(lambda: live.mixer.autoeq.applied_db()[band] == 24.0, 10, "the loud band")
        _advance(live, 1.0, "a second into the limiter")
        # the room thread publishes what it sees (the mic hears the tone too)
        wait_until(lambda: engine.params.get("/liveai/mixer/music_level_db") > -60.0, 10,
                   "the mic level estimate")
        wait_until(lambda: engine.params.get("/liveai/mixer/limiter_gain_db") < -1.0, 10,
                   "the limiter's gain reduction")
        res = peer.result()
    finally:
        engine.stop()
        engine.close()
    assert res["frames"] > 3 * SR
    y = np.load(rec)
    nz = np.flatnonzero(y)
    y = y[nz[0]:]
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y)) <= CEILING * (1 + 1e-6), "a sample went over the ceiling"
    # RMS over 50 ms windows: three plateaus (EQ + gain, bypass, limited)
    win = 2400
    env = np.array([_rms(y[k:k + win]) for k in range(0, y.size - win, win)])
    tone = 0.25 / np.sqrt(2.0)
    level_a = np.median(env[4:16])  # 0.2 .. 0.8 s into the first second
    assert 20 * np.log10(level_a / (tone * want_a)) == pytest.approx(0.0, abs=0.1)
    # bypass: the programme itself, some 50-ms windows later
    in_bypass = np.abs(20 * np.log10(env / tone)) < 0.05
    assert np.count_nonzero(in_bypass) >= 12, "bypass did not give the programme back"
    # limited: the end sits just under the ceiling
    assert np.max(np.abs(y[-SR // 2:])) > 0.9 * CEILING
    assert live.counts[1] == 0  # no chain errors
    assert "mixer:" in "\n".join(engine.summary(1.0, "test").notes)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"band {band} manual 4.0 (engineer)" in logged and "bypass on (engineer)" in logged


@pytest.mark.jack
def test_nan_on_the_input_never_reaches_the_pa(jack_server, jack_peer):
    server = jack_server(period_frames=1024)
    config = _config(gain_db=-6.0)
    engine = Engine(config, build_source(config), projector=False)
    engine.start()
    try:
        ins = wait_for_ports(server, "PortAudio:in", 2)
        outs = wait_for_ports(server, "PortAudio:out", 1)
        res = jack_peer(server, "bad", ins[0], outs[0]).result()
    finally:
        engine.stop()
        engine.close()
    assert res["frames_seen"] >= SR
    assert res["nonfinite_seen"] == 0
    assert 0.1 < res["max_abs_seen"] <= CEILING * (1 + 1e-6)
    st = engine.source.manager.stats()
    assert st.output_nonfinite > 1000
    assert st.callback_errors == 0
    assert engine.live_mixer.counts[1] == 0  # through the chain, not the fallback


def test_a_failing_chain_falls_back_to_the_dry_programme():
    """The PA never depends on the mixer: a broken chain still lets the sanitised input out."""
    cfg = MixerConfig(enabled=True, mic_channel=3, auto_eq=False, gain_db=-6.0)
    live = LiveMixer(SR, 256, np.array([1, 0], dtype=np.intp), cfg, 2)
    live.attach(engine_store())
    live.warm_up()
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (256, 3)).astype(np.float32)
    x[7, 1] = np.nan
    out = np.zeros((256, 2), dtype=np.float32)
    live.chain.zs = None  # a broken chain: the kernel call raises
    bad = live.process(x, live.channel_index, out)
    assert bad == 1 and live.counts[1] == 1
    want = x[:, [1, 0]].copy()
    want[7, 0] = 0.0
    np.testing.assert_array_equal(out, want)
    # a block longer than the buffers: the dry route too, never a read past their end
    big = np.full((4096, 3), 0.25, dtype=np.float32)
    big_out = np.zeros((4096, 2), dtype=np.float32)
    live.process(big, live.channel_index, big_out)
    assert live.counts[1] == 2 and np.all(big_out == 0.25)


def test_room_thread_reads_controls_and_publishes_estimates():
    cfg = MixerConfig(enabled=True, mic_channel=2, crowd_comp=False)
    store = engine_store()
    live = LiveMixer(SR, 256, np.array([0], dtype=np.intp), cfg, 1, worker=False)
    live.attach(store)
    live.warm_up()
    buf = np.zeros((4096, live.ring.channels), dtype=np.float32)
    rng = np.random.default_rng(2)
    out = np.zeros((256, 1), dtype=np.float32)
    for _ in range(40):
        live.process(rng.standard_normal((256, 2)).astype(np.float32) * 0.1,
                     live.channel_index, out)
    assert live.step(buf) == 40 * 256
    store.set("/liveai/mixer/lock", True)
    store.set("/liveai/mixer/band/2/freeze", True)
    store.set("/liveai/mixer/band/4/gain_db", -3.0)
    store.set("/liveai/mixer/max_boost_db", 3.0)
    live.process(np.zeros((256, 2), dtype=np.float32), live.channel_index, out)
    live.step(buf)
    m = live.mixer
    assert m.autoeq.locked and m.autoeq.frozen[2] and m.config.max_boost_db == 3.0
    assert store.get("/liveai/mixer/band/4/manual") is True
    assert m.autoeq.applied_db()[4] == -3.0
    # the new EQ reached the chain's parameter set in force
    assert not m.pending
    np.testing.assert_allclose(live.chain.p_coef[live.chain.active[0], 0],
                               m.autoeq.coefs())
    store.set("/liveai/mixer/band/4/manual", False)
    live.process(np.zeros((256, 2), dtype=np.float32), live.channel_index, out)
    live.step(buf)
    assert m.autoeq.applied_db()[4] == 0.0
    live.publish()
    assert store.get("/liveai/mixer/gain_db") == 0.0
    assert store.get("/liveai/mixer/crowd_level_db") < 0.0
    whats = [c[1] for c in m.changes]
    assert "eq locked" in whats and "band 2 frozen" in whats


def test_non_finite_targets_never_reach_the_chain():
    """A room estimate gone bad (NaN) is refused: the chain keeps its last good settings."""
    live = LiveMixer(SR, 256, np.array([0], dtype=np.intp),
                     MixerConfig(enabled=True, mic_channel=2), 1)
    live.attach(engine_store())
    live.warm_up()
    buf = np.zeros((4096, live.ring.channels), dtype=np.float32)
    out = np.zeros((256, 1), dtype=np.float32)
    good = live.chain.p_coef[live.chain.active[0]].copy()
    live.mixer.autoeq.gains_db[3] = np.nan
    live.mixer._apply()  # what an update would do
    live.process(np.zeros((256, 2), dtype=np.float32), live.channel_index, out)
    live.step(buf)
    assert live.rejected_updates == 1 and not live.mixer.pending
    np.testing.assert_array_equal(live.chain.p_coef[live.chain.active[0]], good)
    x = np.full((256, 2), 0.1, dtype=np.float32)
    live.process(x, live.channel_index, out)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("text, words", [
    ("[mixer]\nenabled = true\n", ["mixer.enabled = true needs audio.duplex"]),
    ("[audio]\nduplex = true\n[mixer]\nenabled = true\nmic_channel = 2\n",
     ["mixer.mic_channel = 2", "own channel"]),
    ("[audio]\nduplex = true\n[mixer]\nenabled = true\noutput_channels = [3]\n",
     ["one output per audio.input_channels entry"]),
    ("[mixer]\nfreq_lo_hz = 1000.0\nfreq_hi_hz = 1500.0\n", ["at least an octave"]),
    ("[mixer]\nceiling_db = 3.0\n", ["mixer.ceiling_db = 3.0", "out of range"]),
])
def test_bad_mixer_tables_name_the_file_and_the_key(tmp_path, text, words):
    path = tmp_path / "show.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_show(str(path))
    for w in [str(path), *words]:
        assert w in str(err.value)


def test_a_mixer_table_loads(tmp_path):
    path = tmp_path / "show.toml"
    path.write_text("[audio]\nduplex = true\ninput_channels = [1, 2]\n[mixer]\nenabled = true\n"
                    "mic_channel = 3\noutput_channels = [3, 4]\nmax_boost_db = 3.0\n"
                    "auto_eq = false\n")
    config, _ = load_show(str(path))
    m = config.mixer
    assert (m.enabled, m.mic_channel, m.output_channels, m.max_boost_db, m.auto_eq) == (
        True, 3, [3, 4], 3.0, False)
    live = LiveMixer(SR, 256, np.array([0, 1], dtype=np.intp), m, 4)
    np.testing.assert_array_equal(live.out_map, [-1, -1, 0, 1])
    np.testing.assert_array_equal(live.fallback_map, [-1, -1, 0, 1])


@pytest.mark.jack
def test_the_live_room_estimate_starts_from_the_soundcheck_profile(jack_server, tmp_path,
                                                                   monkeypatch, caplog):
    """`liveai measure` writes a profile; the engine's mixer starts at its delay (acoustic
    delay + this stream's latency), and a broken profile is reported and left out."""
    from liveai.mixer.measure import RoomProfile, save_profile

    caplog.set_level(logging.INFO)
    jack_server(period_frames=1024)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    prof = RoomProfile(sample_rate_hz=SR, delay_ms=95.0, rt60_s={"1000": 1.2},
                       freqs_hz=[1000.0], response_db=[0.0], date="2026-11-25",
                       acoustic_delay_ms=52.5, io_latency_ms=42.5)
    save_profile(prof, tmp_path / "liveai" / "room" / "room_profile.json")
    config = _config()
    engine = Engine(config, build_source(config), projector=False)
    engine.start()
    try:
        latency = engine.source.manager.latency_s
        want_ms = 52.5 + 1e3 * sum(latency)
        got_ms = 1e3 * engine.live_mixer.mixer.estimator.delay_samples / SR
        assert got_ms == pytest.approx(want_ms, abs=1e3 / SR)
    finally:
        engine.stop()
        engine.close()
    assert "soundcheck of 2026-11-25" in caplog.text
    (tmp_path / "broken.json").write_text("{ not json")
    config = dataclasses.replace(config, mixer=dataclasses.replace(
        config.mixer, profile=str(tmp_path / "broken.json")))
    engine = Engine(config, build_source(config), projector=False)
    engine.start()
    try:
        assert engine.live_mixer.mixer.estimator.delay_samples == -1  # found from the music
    finally:
        engine.stop()
        engine.close()
    assert "broken.json not used" in caplog.text
