"""liveai: listens to the music, drives audio-reactive visuals, tunes the PA, plays over OSC."""

__version__ = "0.1.0"
