"""A second JACK client, run as its own process by the tests.

Modes (first argument):
  ramp    PORT...   write a counting ramp to each PORT (channel c: value sign (-1)**c); runs
                    until stdin closes; prints {"xruns": N} at the end
  tone    PORT...   write a 1 kHz sine at -12 dBFS peak (-15.05 dBFS RMS), the same on every
                    port, until stdin closes
  delay   OUT IN    send one impulse into OUT, find it at IN; prints {"delay_frames": N}
  playrec NPY IN OUT...  write the tone of `tone` to every OUT, record IN into NPY (float32)
                    until stdin closes (at most 30 s); prints {"frames": N, "xruns": N}
  bad     OUT IN    send NaN, Inf and +-4.0 mixed with a sine into OUT for 1 s, watch IN;
                    prints {"nonfinite_seen": N, "max_abs_seen": X, "frames_seen": N}
The ramp value of frame n is ((n mod 65536) + 1) / 131072: exact in float32, never zero.
Prints {"ready": true} once its ports are connected.
"""

import json
import sys
import threading

import jack
import numpy as np

RAMP_PERIOD = 65536
RAMP_SCALE = 131072.0


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def run_loop(client, out, inp, targets, done) -> None:
    """Wire OUT -> liveai's input and liveai's output -> IN, run until done (or 10 s)."""
    client.activate()
    client.connect(out, targets[0])
    client.connect(targets[1], inp)
    emit({"ready": True, "samplerate": client.samplerate})
    done.wait(10.0)
    client.deactivate()


def main() -> None:
    mode, targets = sys.argv[1], sys.argv[2:]
    client = jack.Client(f"peer_{mode}", no_start_server=True)
    state = {"n": 0, "xruns": 0, "sent_at": None, "found_at": None, "cycles": 0}
    sr = client.samplerate

    @client.set_xrun_callback
    def _xrun(delay):
        state["xruns"] += 1

    if mode == "playrec":
        path, inp_target, out_targets = targets[0], targets[1], targets[2:]
        outs = [client.outports.register(f"out_{i}") for i in range(len(out_targets))]
        inp = client.inports.register("in")
        rec = np.zeros(30 * sr, dtype=np.float32)

        @client.set_process_callback
        def process(frames):
            n0 = state["n"]
            idx = np.arange(n0, n0 + frames)
            base = 0.25 * np.sin(2 * np.pi * 1000.0 * idx / sr)
            for port in outs:
                port.get_array()[:] = base
            k = min(frames, rec.size - n0)
            if k > 0:
                rec[n0:n0 + k] = inp.get_array()[:k]
            state["n"] = n0 + frames

        client.activate()
        for port, target in zip(outs, out_targets, strict=True):
            client.connect(port, target)
        client.connect(inp_target, inp)
        emit({"ready": True, "samplerate": sr})
        sys.stdin.read()
        client.deactivate()
        np.save(path, rec[:min(state["n"], rec.size)])
        emit({"frames": state["n"], "xruns": state["xruns"]})
    elif mode in ("ramp", "tone"):
        outs = [client.outports.register(f"out_{i}") for i in range(len(targets))]

        @client.set_process_callback
        def process(frames):
            n0 = state["n"]
            idx = np.arange(n0, n0 + frames)
            if mode == "ramp":
                base = ((idx % RAMP_PERIOD) + 1) / RAMP_SCALE
            else:
                base = 0.25 * np.sin(2 * np.pi * 1000.0 * idx / sr)
            for c, port in enumerate(outs):
                sign = (-1.0) ** c if mode == "ramp" else 1.0
                port.get_array()[:] = base * sign
            state["n"] = n0 + frames

        client.activate()
        for port, target in zip(outs, targets, strict=True):
            client.connect(port, target)
        emit({"ready": True, "samplerate": sr})
        sys.stdin.read()
        client.deactivate()
        emit({"xruns": state["xruns"], "frames": state["n"]})
    elif mode == "delay":
        out = client.outports.register("out")
        inp = client.inports.register("in")
        done = threading.Event()

        @client.set_process_callback
        def process(frames):
            t0 = client.last_frame_time
            buf = out.get_array()
            buf[:] = 0.0
            state["cycles"] += 1
            if state["cycles"] == 20:
                buf[3] = 1.0
                state["sent_at"] = t0 + 3
            x = inp.get_array()
            hit = np.flatnonzero(np.abs(x) > 0.5)
            if hit.size and state["sent_at"] is not None and state["found_at"] is None:
                state["found_at"] = t0 + int(hit[0])
                done.set()

        run_loop(client, out, inp, targets, done)
        if state["found_at"] is None:
            emit({"delay_frames": None})
        else:
            emit({"delay_frames": int(state["found_at"] - state["sent_at"])})
    elif mode == "bad":
        out = client.outports.register("out")
        inp = client.inports.register("in")
        seen = {"nonfinite": 0, "max_abs": 0.0, "frames": 0}
        done = threading.Event()

        @client.set_process_callback
        def process(frames):
            n0 = state["n"]
            idx = np.arange(n0, n0 + frames)
            x = (0.5 * np.sin(2 * np.pi * 440.0 * idx / sr)).astype(np.float32)
            x[idx % 7 == 0] = np.nan
            x[idx % 11 == 0] = np.inf
            x[idx % 13 == 0] = -np.inf
            x[idx % 5 == 0] = 4.0
            x[idx % 17 == 0] = -4.0
            out.get_array()[:] = x
            state["n"] = n0 + frames
            y = inp.get_array()
            finite = np.isfinite(y)
            seen["nonfinite"] += int(np.count_nonzero(~finite))
            if finite.any():
                seen["max_abs"] = max(seen["max_abs"], float(np.max(np.abs(y[finite]))))
            seen["frames"] += frames
            if state["n"] >= sr:
                done.set()

        run_loop(client, out, inp, targets, done)
        emit({"nonfinite_seen": seen["nonfinite"], "max_abs_seen": seen["max_abs"],
              "frames_seen": seen["frames"]})
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
