"""The engineer's live view: a real HTTP client against the page and its JSON."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest
from conftest import wait_until

from liveai.config import MixerConfig
from liveai.mixer.live import LiveMixer
from liveai.mixer.view import HISTORY_FIELDS, MixerView
from liveai.params import engine_store

SR = 48000
BLOCK = 256


def _get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as res:
        return res.headers["Content-Type"], res.read()


def _run(live: LiveMixer, seconds: float, rng) -> None:
    """Programme through the callback, a delayed copy as the mic, the room thread stepping."""
    buf = np.zeros((4096, live.ring.channels), dtype=np.float32)
    out = np.zeros((BLOCK, 1), dtype=np.float32)
    prev = np.zeros(BLOCK, dtype=np.float32)
    for k in range(int(seconds * SR / BLOCK)):
        x = (rng.standard_normal(BLOCK) * 0.1).astype(np.float32)
        live.process(np.stack([x, 0.3 * prev], axis=1), live.channel_index, out)
        prev = x
        if k % 16 == 15:
            live.step(buf)
        if k % 94 == 93:  # every ~0.5 s of audio, as the room thread does
            live.publish()


@pytest.fixture
def live(rng):
    cfg = MixerConfig(enabled=True, mic_channel=2, crowd_comp=False)
    m = LiveMixer(SR, BLOCK, np.array([0], dtype=np.intp), cfg, 1, worker=False)
    m.attach(engine_store())
    m.warm_up()
    m.mixer.set_band(3, -2.5)  # a change with its reason in the log
    _run(m, 4.0, rng)
    yield m
    m.close()


def test_the_page_is_served_self_contained(live):
    view = MixerView(live, port=0)
    view.start()
    try:
        kind, body = _get(view.url)
        page = body.decode()
        assert kind.startswith("text/html")
        assert "<canvas" in page and "/mixer.json" in page
        # nothing from the internet: no external scripts, styles or fonts
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
        _, root = _get(f"http://127.0.0.1:{view.port}/")  # redirected to the page
        assert root == body
        with pytest.raises(urllib.error.HTTPError) as err:
            _get(f"http://127.0.0.1:{view.port}/nothing")
        assert err.value.code == 404
    finally:
        view.stop()


def test_the_json_carries_every_estimate_and_the_log(live, rng):
    view = MixerView(live, port=0)
    view.start()
    try:
        kind, body = _get(f"http://127.0.0.1:{view.port}/mixer.json")
        assert kind == "application/json"
        state = json.loads(body)  # strict JSON: no NaN
        r = state["report"]
        n = len(r["freqs_hz"])
        for key in ("response_db", "coherence", "eq_db", "target_db", "crowd_band_db"):
            assert len(r[key]) == n, key
        assert len(r["band_gains_db"]) == len(r["band_freqs_hz"]) == live.config.n_bands
        assert r["band_gains_db"][3] == -2.5
        for key in ("crowd_level_db", "music_level_db", "gain_db", "limiter_gain_db",
                    "delay_ms", "seconds"):
            assert isinstance(r[key], float), key
        assert r["seconds"] > 3.0
        h = state["history"]
        assert set(h) == set(HISTORY_FIELDS)
        assert len(h["t_s"]) == len(live.history) >= 4
        assert h["t_s"] == sorted(h["t_s"])
        assert ["band 3 manual -2.5", "engineer"] in [c[1:] for c in state["changes"]]
        # it follows the show: more audio, more history
        before = len(h["t_s"])
        _run(live, 1.0, rng)
        h2 = json.loads(_get(f"http://127.0.0.1:{view.port}/mixer.json")[1])["history"]
        assert len(h2["t_s"]) > before
    finally:
        view.stop()


def test_the_view_starts_with_the_mixer_on_its_configured_port(rng):
    with socket.socket() as s:  # a port free right now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = MixerConfig(enabled=True, mic_channel=2, crowd_comp=False, view_port=port)
    live = LiveMixer(SR, BLOCK, np.array([0], dtype=np.intp), cfg, 1, worker=False)
    live.attach(engine_store())
    live.warm_up()
    live.start(poll_s=0.01)
    try:
        assert live.view is not None and live.view.port == port
        _, body = _get(f"http://127.0.0.1:{port}/mixer")
        assert b"liveai adaptive mixer" in body
        wait_until(lambda: json.loads(_get(f"http://127.0.0.1:{port}/mixer.json")[1])
                   ["history"]["t_s"], 10, "the room thread's first report")
    finally:
        live.close()
    with pytest.raises(OSError):
        _get(f"http://127.0.0.1:{port}/mixer")
