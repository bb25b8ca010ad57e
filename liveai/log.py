"""Logging set-up (once, by the CLI) and a rate-limited logger for things that can repeat."""

from __future__ import annotations

import logging
import sys
import time

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure(verbosity: int = 0) -> None:
    """Configure the root logger once for the whole process.

    Parameters
    ----------
    verbosity : int
        0 and 1 (``-v``) show info lines (at 0 numba's and other libraries' chatter stays
        hidden), 2 (``-vv``) shows debug.
    """
    level = logging.DEBUG if verbosity >= 2 else logging.INFO
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(level)
    if verbosity == 0:
        # Third-party chatter stays quiet unless asked for.
        for name in ("numba", "matplotlib", "PIL"):
            logging.getLogger(name).setLevel(logging.WARNING)


class RateLimitedLogger:
    """Log a message at most once per ``interval_s`` per key, counting what was suppressed.

    Use for anything that can repeat per block or per frame (device lost, bad packets, xruns).
    Never call it from the audio callback: it formats strings and takes logging's lock.

    Parameters
    ----------
    logger : logging.Logger
        Where the messages go.
    interval_s : float
        Minimum seconds between two messages with the same key.
    """

    def __init__(self, logger: logging.Logger, interval_s: float = 5.0) -> None:
        self._logger = logger
        self._interval_s = float(interval_s)
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def log(self, level: int, key: str, msg: str, *args: object, **kwargs: object) -> bool:
        """Log ``msg % args`` unless ``key`` was logged less than ``interval_s`` ago.

        Returns
        -------
        bool
            True when the message was emitted.
        """
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        skipped = self._suppressed.pop(key, 0)
        self._last[key] = now
        if skipped:
            msg = f"{msg} ({skipped} similar messages suppressed)"
        self._logger.log(level, msg, *args, **kwargs)
        return True

    def warning(self, key: str, msg: str, *args: object, **kwargs: object) -> bool:
        """Rate-limited warning; see :meth:`log`."""
        return self.log(logging.WARNING, key, msg, *args, **kwargs)

    def info(self, key: str, msg: str, *args: object, **kwargs: object) -> bool:
        """Rate-limited info; see :meth:`log`."""
        return self.log(logging.INFO, key, msg, *args, **kwargs)
