"""Adaptive mixer: EQ/gain/limiter chain, room estimation, crowd noise, auto-EQ."""

from liveai.mixer.config import MixerConfig
from liveai.mixer.mixer import AdaptiveMixer, MixerError

__all__ = ["AdaptiveMixer", "MixerConfig", "MixerError"]
