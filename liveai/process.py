"""Stopping child processes (servers, projectors) politely, then firmly."""

from __future__ import annotations

import subprocess


def terminate(proc: subprocess.Popen, timeout_s: float = 5.0) -> int:
    """SIGTERM ``proc``, wait up to ``timeout_s``, then SIGKILL; return its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
