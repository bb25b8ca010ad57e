"""Devices, streams, rings and sources (device, file, demo). Never imports GL."""
