"""One root exception for everything liveai reports to a performer.

Each subclass carries a message written for the person at the desk: what went wrong, which file,
key, device or value, and what to do next. The CLI prints ``str(error)`` and exits with
``error.exit_code``.
"""


class LiveAIError(Exception):
    """Root of every error liveai raises on purpose.

    Parameters
    ----------
    message : str
        One line a performer understands, naming the offending value and where it came from.
    """

    exit_code = 1


class ConfigError(LiveAIError):
    """A preset or setting is missing, malformed, of the wrong type or out of range."""

    exit_code = 2


class DeviceError(LiveAIError):
    """An audio device could not be found or opened."""


class SourceError(LiveAIError):
    """An audio source (file, demo, device) cannot deliver audio."""


class ServerError(LiveAIError):
    """A helper server (JACK, Xvfb) could not be started or reached."""
