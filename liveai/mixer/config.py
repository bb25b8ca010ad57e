"""Settings of the adaptive mixer: one frozen dataclass, every field with its unit and range.

``MixerConfig()`` holds the defaults; ``MixerConfig.from_table(dict, where)`` builds one from a
TOML table (``[mixer]`` of a preset) and names the key and the bad value when something is off.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from liveai.errors import ConfigError


def _opt(default: Any, doc: str, **limits: Any) -> Any:
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata={"doc": doc, **limits})
    return field(default=default, metadata={"doc": doc, **limits})


@dataclass(frozen=True)
class MixerConfig:
    """Limits, targets and time constants of the adaptive mixer."""

    # the chain
    n_bands: int = _opt(20, "EQ bands per channel (auto-EQ peaking bands)", min=16, max=32)
    ceiling_db: float = _opt(-1.0, "hard output ceiling, dBFS: no sample ever exceeds it",
                             min=-24.0, max=0.0)
    lookahead_ms: float = _opt(1.5, "limiter look-ahead (the chain's latency)", min=0.1, max=10.0)
    release_ms: float = _opt(80.0, "limiter release time constant", min=5.0, max=2000.0)
    smoothing_ms: float = _opt(20.0, "glide of every EQ/gain change", min=1.0, max=500.0)
    # auto-EQ
    auto_eq: bool = _opt(True, "correct the room response toward the target")
    target: str = _opt("flat", "target curve: flat, house (LF rise, HF fall) or file",
                       choices=("flat", "house", "file"))
    target_file: str = _opt("", "target for target = file: lines 'freq_hz gain_db'")
    freq_lo_hz: float = _opt(80.0, "lowest frequency the auto-EQ corrects", min=20.0, max=2000.0)
    freq_hi_hz: float = _opt(10000.0, "highest frequency the auto-EQ corrects", min=1000.0,
                             max=20000.0)
    max_boost_db: float = _opt(6.0, "largest boost of any band", min=0.0, max=12.0)
    max_cut_db: float = _opt(12.0, "largest cut of any band", min=0.0, max=24.0)
    max_rate_db_s: float = _opt(1.0, "fastest change of any band gain, dB per second", min=0.05,
                                max=20.0)
    min_coherence: float = _opt(0.2, "bands whose coherence (programme-explained share of the "
                                "mic) is below this are not corrected; the room model averages "
                                "over time, so its estimate holds down to about 0.2", min=0.05,
                                max=0.99)
    null_depth_db: float = _opt(6.0, "a dip this far below the 1-octave trend is a null: never "
                                "boosted", min=1.0, max=30.0)
    # crowd compensation
    crowd_comp: bool = _opt(True, "raise the gain to keep the music above the crowd")
    crowd_margin_db: float = _opt(10.0, "wanted music-over-crowd margin at the mic", min=0.0,
                                  max=40.0)
    crowd_max_gain_db: float = _opt(6.0, "most gain the crowd compensation may add", min=0.0,
                                    max=12.0)
    crowd_attack_db_s: float = _opt(0.5, "gain rise rate", min=0.01, max=10.0)
    crowd_release_db_s: float = _opt(0.25, "gain fall rate", min=0.01, max=10.0)
    gain_db: float = _opt(0.0, "static gain before crowd compensation", min=-20.0, max=12.0)
    # the room estimate
    room_model_s: float = _opt(1.5, "length of the room model: at least the hall's RT60", min=0.1,
                               max=4.0)
    max_delay_ms: float = _opt(300.0, "largest PA-to-mic delay searched (acoustic + I/O)",
                               min=0.0, max=500.0)
    adapt_step: float = _opt(1.0, "NLMS step of the room model (0..1)", min=0.01, max=1.0)
    average_s: float = _opt(2.0, "averaging of coherence and crowd spectra", min=0.2, max=30.0)
    update_s: float = _opt(0.5, "how often the EQ/gain targets are recomputed", min=0.05, max=10.0)
    ref_floor_db: float = _opt(-70.0, "reference level below which nothing is learned", min=-120.0,
                               max=-20.0)

    def __post_init__(self) -> None:
        self.validate("mixer")

    @classmethod
    def from_table(cls, table: dict, where: str = "[mixer]") -> MixerConfig:
        """Build from a TOML table, naming unknown keys and bad values."""
        names = {f.name for f in dataclasses.fields(cls)}
        for key in table:
            if key not in names:
                raise ConfigError(f"{where}: unknown key {key!r}")
        try:
            return cls(**table)
        except TypeError as exc:
            raise ConfigError(f"{where}: {exc}") from exc

    def validate(self, where: str) -> None:
        """Check every field's type and range, then the constraints that span fields."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            meta = f.metadata
            default = f.default
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"{where}.{f.name} = {value!r}: expected true or false")
                continue
            if isinstance(default, (int, float)):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ConfigError(f"{where}.{f.name} = {value!r}: expected a number")
                if isinstance(default, int) and not isinstance(value, int):
                    raise ConfigError(f"{where}.{f.name} = {value!r}: expected an integer")
                if not math.isfinite(value):
                    raise ConfigError(f"{where}.{f.name} = {value!r}: not a finite number")
                if "min" in meta and value < meta["min"]:
                    raise ConfigError(f"{where}.{f.name} = {value!r}: below the minimum "
                                      f"{meta['min']}")
                if "max" in meta and value > meta["max"]:
                    raise ConfigError(f"{where}.{f.name} = {value!r}: above the maximum "
                                      f"{meta['max']}")
            if "choices" in meta and value not in meta["choices"]:
                raise ConfigError(f"{where}.{f.name} = {value!r}: choose one of "
                                  f"{', '.join(meta['choices'])}")
        if self.freq_lo_hz * 2 > self.freq_hi_hz:
            raise ConfigError(f"{where}: freq_lo_hz = {self.freq_lo_hz} must be at least an octave "
                              f"below freq_hi_hz = {self.freq_hi_hz}")
        if self.target == "file" and not self.target_file:
            raise ConfigError(f"{where}: target = 'file' needs target_file")
