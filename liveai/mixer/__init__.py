"""Adaptive mixer: EQ/gain/limiter chain, room estimation, crowd noise, auto-EQ."""
