"""Another Ableton Link app, in its own process: joins the session and reports what it sees.

Usage: ``python link_peer.py BPM [QUANTUM]``. Prints one JSON line per 50 ms:
``{"t": monotonic s, "peers": n, "bpm": tempo, "beat": beat, "phase": phase}``; exits when
stdin closes. A line ``tempo X`` on stdin sets the session tempo.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time

import aalink


def main() -> None:
    bpm = float(sys.argv[1])
    quantum = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    loop = asyncio.new_event_loop()

    async def make() -> aalink.Link:
        return aalink.Link(bpm)

    link = loop.run_until_complete(make())
    link.quantum = quantum
    link.enabled = True
    done = threading.Event()

    def read_stdin() -> None:
        for line in sys.stdin:
            words = line.split()
            if len(words) == 2 and words[0] == "tempo":
                link.tempo = float(words[1])
        done.set()

    threading.Thread(target=read_stdin, daemon=True).start()
    while not done.wait(0.05):
        t = time.monotonic()
        print(json.dumps({"t": t, "peers": link.num_peers, "bpm": link.tempo,
                          "beat": link.beat, "phase": link.phase}), flush=True)
    link.enabled = False


if __name__ == "__main__":
    main()
