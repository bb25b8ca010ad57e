"""A simulated room as a JACK client in its own process, for the ``liveai measure`` tests.

Usage: ``jack_room_peer.py OUT_PORT IN_PORT ROOM_JSON``

Waits for ports matching the regular expressions OUT_PORT (liveai's output, e.g.
``PortAudio[^:]*:out_0$``) and IN_PORT (liveai's input, ``PortAudio[^:]*:in_0$``) to appear,
then plays what it hears on OUT_PORT, convolved with the impulse response :func:`room_ir`
builds from ROOM_JSON, into IN_PORT (overlap-add, state carried across cycles). ROOM_JSON:
``{"taps": {"lag_samples": gain, ...}, "rt60_s": 0.6, "tail_gain": 0.01, "seed": 1}`` (rt60_s
adds a decaying noise tail); ``{}`` is a dead mic. Prints {"ready": true, ...} once connected
and {"frames": N, "xruns": N} when stdin closes (or after 60 s).
"""

import json
import sys
import threading
import time

import jack
import numpy as np


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def room_ir(spec: dict, sample_rate_hz: int) -> np.ndarray:
    """The room's impulse response: the taps, plus a seeded exponentially decaying noise tail
    starting 3 ms after the first tap when ``rt60_s`` is given."""
    taps = {int(k): float(v) for k, v in spec.get("taps", {}).items()}
    first = min(taps, default=0)
    rt60_s = spec.get("rt60_s")
    n_tail = int(1.2 * rt60_s * sample_rate_hz) if rt60_s else 0
    h = np.zeros(max(max(taps, default=0) + 1, first + n_tail))
    for lag, g in taps.items():
        h[lag] += g
    if rt60_s:
        start = first + int(0.003 * sample_rate_hz)
        t = np.arange(h.size - start) / sample_rate_hz
        rng = np.random.default_rng(int(spec.get("seed", 1)))
        h[start:] += (float(spec.get("tail_gain", 0.02)) * rng.standard_normal(t.size)
                      * np.exp(-6.9078 * t / rt60_s))  # 60 dB down at rt60_s
    return h


def main() -> None:
    out_target, in_target, room_json = sys.argv[1], sys.argv[2], sys.argv[3]
    client = jack.Client("peer_room", no_start_server=True)
    h = room_ir(json.loads(room_json), client.samplerate)
    inp = client.inports.register("in")
    out = client.outports.register("out")
    nfft = 1 << int(np.ceil(np.log2(h.size + client.blocksize)))
    h_spec = np.fft.rfft(h, nfft)
    over = np.zeros(nfft)  # overlap-add accumulator: over[0] is the next output sample
    state = {"frames": 0, "xruns": 0}

    @client.set_xrun_callback
    def _xrun(delay):
        state["xruns"] += 1

    @client.set_process_callback
    def process(frames):
        x = inp.get_array().astype(np.float64)
        over[:] += np.fft.irfft(np.fft.rfft(x, nfft) * h_spec, nfft)
        out.get_array()[:] = over[:frames]
        over[:-frames] = over[frames:].copy()
        over[-frames:] = 0.0
        state["frames"] += frames

    client.activate()
    deadline = time.monotonic() + 20.0
    while True:  # the targets are regular expressions (PortAudio's client may be "PortAudio-01")
        outs = client.get_ports(out_target)
        ins = client.get_ports(in_target)
        if outs and ins:
            out_target, in_target = outs[0].name, ins[0].name
            break
        if time.monotonic() > deadline:
            emit({"ready": False})
            return
        time.sleep(0.005)
    client.connect(out_target, inp)
    client.connect(out, in_target)
    emit({"ready": True, "ports": [out_target, in_target], "samplerate": client.samplerate,
          "blocksize": client.blocksize})
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait(60.0)
    client.deactivate()
    emit({"frames": state["frames"], "xruns": state["xruns"]})


if __name__ == "__main__":
    main()
