"""Settings of the adaptive mixer: one frozen dataclass, every field with its unit and range.

``MixerConfig()`` holds the defaults; ``MixerConfig.from_table(dict, where)`` builds one from a
TOML table (``[mixer]`` of a preset) and names the key and the bad value when something is off.
The class lives in :mod:`liveai.config` (a preset's ``[mixer]`` table is a ``ShowConfig.mixer``,
and config imports no feature layer); it is re-exported here for the mixer's own code.
"""

from __future__ import annotations

from liveai.config import MixerConfig

__all__ = ["MixerConfig"]
