"""Small helpers shared by tests."""

from __future__ import annotations

import dataclasses

from liveai.config import ShowConfig


def replace_audio(config: ShowConfig, **changes) -> ShowConfig:
    return dataclasses.replace(config, audio=dataclasses.replace(config.audio, **changes))
