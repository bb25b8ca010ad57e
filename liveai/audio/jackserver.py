"""Start and stop a private JACK server with the dummy driver (no sound card needed).

Used by ``liveai bench audio`` and by the test suite, so both exercise the real PortAudio → JACK
path on machines without audio hardware. The server gets its own name; ``activate()`` points
this process (and the children it starts) at it through ``JACK_DEFAULT_SERVER``.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import subprocess
import threading
import time

from liveai.errors import ServerError
from liveai.process import terminate

log = logging.getLogger(__name__)


class JackServer:
    """A ``jackd -d dummy`` process.

    Parameters
    ----------
    name : str
        Server name (``jackd -n``).
    sample_rate_hz : int
    period_frames : int
        JACK's period (block) size.
    channels : int
        Dummy capture and playback ports each.
    realtime : bool
        Run the JACK threads (and so the PortAudio callback) with SCHED_FIFO priority, as a
        real show would. Falls back to normal scheduling where the system refuses it.
    """

    def __init__(self, name: str = "liveai", sample_rate_hz: int = 48000,
                 period_frames: int = 256, channels: int = 4, realtime: bool = True) -> None:
        self.realtime = bool(realtime)
        self.name = name
        self.sample_rate_hz = int(sample_rate_hz)
        self.period_frames = int(period_frames)
        self.channels = int(channels)
        self.proc: subprocess.Popen | None = None
        #: Xruns jackd reported in its own log (an independent count of missed cycles).
        self.xruns = 0
        #: The same, per client that was late (jackd names it: "client = NAME was not finished").
        self.xruns_by_client: dict[str, int] = {}

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that point JACK clients at this server."""
        return {"JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}

    def activate(self) -> None:
        """Point this process's future JACK clients (PortAudio after a refresh) at the server."""
        os.environ.update(self.env)

    def running(self) -> bool:
        """True when a client can connect."""
        lsp = shutil.which("jack_lsp")
        if lsp is None:
            return self.proc is not None and self.proc.poll() is None
        env = {**os.environ, **self.env}
        res = subprocess.run([lsp], env=env, capture_output=True, timeout=5, check=False)
        return res.returncode == 0

    def start(self, timeout_s: float = 10.0) -> JackServer:
        """Start jackd and wait until it accepts clients.

        Raises
        ------
        ServerError
            jackd is missing or did not come up (its output is in the message).
        """
        jackd = shutil.which("jackd")
        if jackd is None:
            raise ServerError("jackd not found: install the 'jackd2' package (make setup does)")
        rt = ["--realtime", "-P", "70"] if self.realtime else ["--no-realtime"]
        cmd = [jackd, *rt, "-n", self.name, "-d", "dummy",
               "-r", str(self.sample_rate_hz), "-p", str(self.period_frames),
               "-C", str(self.channels), "-P", str(self.channels)]
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read() if self.proc.stdout else ""
                self.proc.stdout.close()
                if self.realtime and "realtime" in out.lower():
                    log.info("jackd refused realtime scheduling; using normal scheduling")
                    self.realtime = False
                    return self.start(timeout_s)
                raise ServerError(f"jackd exited with code {self.proc.returncode}: "
                                  f"{out.strip()[-500:]}")
            if self.running():
                log.info("JACK server '%s' running (dummy driver, %d Hz, %d-frame periods, %s)",
                         self.name, self.sample_rate_hz, self.period_frames,
                         "realtime" if self.realtime else "normal scheduling")
                # Keep draining its output so a chatty jackd never blocks on a full pipe.
                threading.Thread(target=self._drain, daemon=True).start()
                return self
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"jackd did not accept clients within {timeout_s:.0f} s")

    def _drain(self) -> None:
        proc = self.proc
        if proc is None or proc.stdout is None:
            return
        for line in proc.stdout:
            if "XRun" in line and "JackEngine" in line:
                self.xruns += 1
                late = re.search(r"client = (\S+)", line)
                if late:
                    name = late.group(1)
                    self.xruns_by_client[name] = self.xruns_by_client.get(name, 0) + 1
            log.debug("jackd: %s", line.rstrip())

    def stop(self) -> None:
        """Stop jackd (SIGTERM, then SIGKILL) and remove the files it leaves in /dev/shm."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        terminate(proc)
        self.remove_files()

    def remove_files(self) -> None:
        """Remove the semaphores jackd and its clients leave in /dev/shm under this name.

        A test session or a bench run that starts many servers would pile them up. Clients
        still closing may leave one more after :meth:`stop`; call this again once they are gone.
        """
        for path in glob.glob(f"/dev/shm/jack*_{glob.escape(self.name)}_*"):
            try:
                os.unlink(path)
            except OSError:
                pass

    def __enter__(self) -> JackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
