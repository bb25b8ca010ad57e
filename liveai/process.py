"""Child processes stopped politely, then firmly; shared-memory files of dead engines."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path


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


def shm_dir() -> Path:
    """Where shared-memory files go: ``/dev/shm`` when writable, else the temp folder."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


def remove_stale(folder: Path, pattern: str) -> int:
    """Remove files named ``<prefix>-<pid>-...`` whose process is gone; return how many.

    Engines that were killed leave their shared-memory files behind; the next one tidies up.
    """
    n = 0
    for old in folder.glob(pattern):
        try:
            os.kill(int(old.name.split("-")[1]), 0)
        except ProcessLookupError:
            old.unlink(missing_ok=True)
            n += 1
        except (ValueError, IndexError, OSError):
            pass
    return n
