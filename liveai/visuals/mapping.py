"""Feature → scene-input mappings, and the automatic ones for scenes that ignore audio.

A mapping reads one audio feature each frame (any of liveai's audio uniforms without its ``la_``
prefix: ``bass``, ``beat_ahead``, ``kick``, ``sin_x1``, ``bands3``, ``chroma7`` ...), shapes it
with a curve, scales it, smooths it with separate attack and release times, and writes it to one
ISF input, in that input's own range::

    y = offset + scale * curve(feature)          # 0..1 = the input's MIN..MAX
    value = MIN + smooth(y) * (MAX - MIN)

bool inputs are on while ``y >= 0.5``; events fire when ``y`` rises through 0.5; ``long`` inputs
pick from their VALUES; a ``color`` input's brightness is scaled by ``y`` (or one component, or its
hue rotated, with ``target = "name.r"`` / ``"name.hue"``); a ``point2D`` input takes
``"name.x"`` / ``"name.y"``.

Most shaders VJs own were written for other hosts and read no audio at all. With ``automap`` on
(the default), such a scene gets up to three gentle mappings chosen from its input names (a
``size`` breathes with the bass, a ``flash`` fires on the predicted beat, ``note0..11`` follow the
chroma, a colour's brightness follows the level, a point orbits with the beat clock) so every scene
moves with the music until the VJ maps it properly in the preset.
"""

from __future__ import annotations

import colorsys
import math
import re
from dataclasses import dataclass
from typing import Any

from liveai.visuals.isf import IsfDocument, IsfInput
from liveai.visuals.uniforms import AUDIO_UNIFORMS

CURVES = ("linear", "exp", "log", "smooth", "step")

#: Features that are not 0..1 by nature, and what a mapping divides them by.
FEATURE_SCALE = {"pitch_class": 12.0, "bpm": 240.0, "section": 4.0, "beat_in_bar": 4.0}
#: Counters and clocks: meaningful to shaders, not to a mapping.
_NOT_MAPPABLE = {"beats", "beat_count", "bar_count", "kick_count", "snare_count", "hat_count"}

#: Every feature a mapping can read (all 0..1 once scaled by FEATURE_SCALE).
FEATURE_NAMES: tuple[str, ...] = tuple(
    [name[3:] for name, gtype, _ in AUDIO_UNIFORMS if gtype in ("float", "int")
     and "[" not in name and name[3:] not in _NOT_MAPPABLE]
    + [f"bands{i}" for i in range(8)] + [f"chroma{i}" for i in range(12)]
)


class MappingError(ValueError):
    """A mapping that names an unknown feature, input or curve."""


@dataclass(frozen=True)
class Mapping:
    """One feature → input mapping (see the module docstring for the arithmetic).

    Attributes
    ----------
    source : str
        Feature name, e.g. ``bass``, ``beat_ahead``, ``bands2``.
    target : str
        ISF input name, optionally with a component: ``size``, ``center.x``, ``tint.hue``.
    scale, offset : float
        Applied after the curve, in units of the input's range.
    curve : str
        linear, exp (x²: quiet parts stay quiet), log (√x: lifts quiet parts), smooth
        (smoothstep), step (on above 0.5).
    attack_ms, release_ms : float
        One-pole smoothing while rising / falling (0 = instant).
    """

    source: str
    target: str
    scale: float = 1.0
    offset: float = 0.0
    curve: str = "linear"
    attack_ms: float = 0.0
    release_ms: float = 0.0

    def validate(self, doc: IsfDocument | None = None) -> None:
        """Check the names against the features and the scene.

        Raises
        ------
        MappingError
            With a message naming the bad value and the choices.
        """
        if self.source not in FEATURE_NAMES:
            raise MappingError(f"unknown feature '{self.source}' (features: "
                               + ", ".join(FEATURE_NAMES) + ")")
        if self.curve not in CURVES:
            raise MappingError(f"unknown curve '{self.curve}' (curves: {', '.join(CURVES)})")
        for name, v in (("scale", self.scale), ("offset", self.offset),
                        ("attack_ms", self.attack_ms), ("release_ms", self.release_ms)):
            if not math.isfinite(v):
                raise MappingError(f"{name} = {v} is not a finite number")
        if self.attack_ms < 0 or self.release_ms < 0:
            raise MappingError("attack_ms and release_ms must be 0 or more")
        if doc is not None:
            name, _, comp = self.target.partition(".")
            inp = doc.input(name)
            if inp is None:
                raise MappingError(f"the scene has no input '{name}' (inputs: "
                                   + ", ".join(i.name for i in doc.inputs) + ")")
            allowed = {"point2D": ("x", "y"), "color": ("r", "g", "b", "a", "hue")}
            if comp and comp not in allowed.get(inp.type, ()):
                raise MappingError(f"input '{name}' ({inp.type}) has no component '{comp}'")
            if inp.type in ("image", "audio", "audioFFT"):
                raise MappingError(f"input '{name}' is an {inp.type}; map numbers, not images")


def _curve(kind: str, x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    if kind == "exp":
        return x * x
    if kind == "log":
        return math.sqrt(x)
    if kind == "smooth":
        return x * x * (3.0 - 2.0 * x)
    if kind == "step":
        return 1.0 if x >= 0.5 else 0.0
    return x


def feature_value(values: dict[str, Any], source: str) -> float:
    """Read one feature from :attr:`AudioState.values` (``bands3`` → ``la_bands[3]``), 0..1.

    ``pitch_class`` (0..11, -1 in silence) reads as pc / 12, ``bpm`` as bpm / 240, ``section``
    as code / 4, ``beat_in_bar`` as position / 4.
    """
    m = re.fullmatch(r"(bands|chroma)(\d+)", source)
    if m:
        seq = values.get(f"la_{m.group(1)}", ())
        i = int(m.group(2))
        return float(seq[i]) if i < len(seq) else 0.0
    v = values.get(f"la_{source}", 0.0)
    if isinstance(v, (tuple, list)):
        return 0.0
    return max(float(v), 0.0) / FEATURE_SCALE.get(source, 1.0)


def input_range(inp: IsfInput, comp: int | None = None) -> tuple[float, float]:
    """An input's (or one component's) MIN..MAX as mappings read it (0..1 when absent)."""
    lo, hi = inp.minimum, inp.maximum
    if isinstance(lo, tuple):
        lo = lo[comp or 0]
    if isinstance(hi, tuple):
        hi = hi[comp or 0]
    if lo is None or hi is None:
        if inp.type == "long" and inp.values:
            return 0.0, float(len(inp.values) - 1)
        return 0.0, 1.0
    return float(lo), float(hi)


class MappingEngine:
    """Applies a scene's mappings every frame.

    Parameters
    ----------
    doc : IsfDocument
        The scene's document (for input types and ranges).
    mappings : list of Mapping
        Checked with :meth:`Mapping.validate` here.
    """

    def __init__(self, doc: IsfDocument, mappings: list[Mapping]) -> None:
        for m in mappings:
            m.validate(doc)
        self.doc = doc
        self.mappings = list(mappings)
        self._state = [0.0] * len(mappings)
        self._above = [False] * len(mappings)

    def apply(self, values: dict[str, Any], base: dict[str, Any], dt_s: float) -> dict[str, Any]:
        """Compute the mapped inputs for this frame.

        Parameters
        ----------
        values : dict
            :attr:`AudioState.values`.
        base : dict
            The inputs' current values set by the VJ (colours are modulated around them).
        dt_s : float
            Seconds since the previous frame.

        Returns
        -------
        dict
            input name → new value (events: True when they fire this frame).
        """
        out: dict[str, Any] = {}
        for k, m in enumerate(self.mappings):
            x = _curve(m.curve, feature_value(values, m.source))
            y = m.offset + m.scale * x
            prev = self._state[k]
            tau_ms = m.attack_ms if y > prev else m.release_ms
            if tau_ms > 0 and dt_s > 0:
                y = prev + (1.0 - math.exp(-dt_s * 1000.0 / tau_ms)) * (y - prev)
            self._state[k] = y
            name, _, comp = m.target.partition(".")
            inp = self.doc.input(name)
            if inp is None:
                continue
            yc = min(max(y, 0.0), 1.0)
            if inp.type == "float":
                lo, hi = input_range(inp)
                out[name] = lo + yc * (hi - lo)
            elif inp.type == "bool":
                out[name] = yc >= 0.5
            elif inp.type == "event":
                above = yc >= 0.5
                if above and not self._above[k]:
                    out[name] = True
                self._above[k] = above
            elif inp.type == "long":
                if inp.values:
                    idx = min(int(yc * len(inp.values)), len(inp.values) - 1)
                    out[name] = int(inp.values[idx])
                else:
                    lo, hi = input_range(inp)
                    out[name] = int(round(lo + yc * (hi - lo)))
            elif inp.type == "point2D":
                cur = list(out.get(name, base.get(name, inp.default)))
                i = 1 if comp == "y" else 0
                lo, hi = input_range(inp, i)
                cur[i] = lo + yc * (hi - lo)
                out[name] = tuple(cur)
            elif inp.type == "color":
                cur = list(out.get(name, base.get(name, inp.default)))
                if comp in ("r", "g", "b", "a"):
                    cur["rgba".index(comp)] = yc
                elif comp == "hue":
                    h, light, s = colorsys.rgb_to_hls(*cur[:3])
                    cur[:3] = colorsys.hls_to_rgb((h + yc) % 1.0, light, s)
                else:
                    cur[:3] = [c * max(y, 0.0) for c in cur[:3]]
                out[name] = tuple(cur)
        return out


_AUTO_RULES: tuple[tuple[str, str, float], ...] = (
    # (name pattern, feature, depth). Depth 0 means "the input *is* this feature": the whole
    # range follows it. Otherwise the input swings from its default by that fraction of the
    # range (upwards, or downwards when the default sits near the top).
    (r"level|volume|audio|amp|gain|loud", "level", 0.0),
    (r"bass|kick|low", "bass", 0.0),
    (r"treble|high|hat", "high", 0.0),
    (r"mid", "mid", 0.0),
    (r"beat|pulse|flash|bang|hit|strobe", "beat_ahead", 0.0),
    (r"size|radius|scale|zoom|width|thick|amount|intens|strength|distort|displace|warp|amp",
     "bass", 0.5),
    (r"angle|rotat|phase|offset|shift|hue|twist", "tri_x05", 0.25),
    (r"speed|rate", "level_smooth", 0.3),
)


def _around(inp: IsfInput, feature: str, depth: float) -> Mapping:
    d = min(max(_norm(inp, float(inp.default)), 0.0), 1.0)
    if depth <= 0.0:
        return Mapping(feature, inp.name, attack_ms=10.0, release_ms=150.0)
    scale = depth * (1.0 - d) if d <= 0.8 else -depth * d
    return Mapping(feature, inp.name, offset=d, scale=scale, attack_ms=10.0, release_ms=150.0)


_AUDIO_LABEL_RE = re.compile(r"audio|fft|spectr|wave|sound|music", re.I)


def scene_reads_audio(doc: IsfDocument) -> bool:
    """True when the scene, as it starts, reads audio: an ``la_`` uniform, or an audio input.

    A scene whose audio is one entry of a menu (a ``long`` input with a label such as "Audio
    Flow") reads audio only when that entry is the default; otherwise it starts deaf.
    """
    if re.search(r"\bla_\w+", doc.source) is not None:
        return True
    if not any(i.type in ("audio", "audioFFT") for i in doc.inputs):
        return False
    for inp in doc.inputs:
        if inp.type == "long" and inp.labels and any(_AUDIO_LABEL_RE.search(str(label))
                                                     for label in inp.labels):
            idx = inp.values.index(inp.default) if inp.default in inp.values else 0
            return bool(_AUDIO_LABEL_RE.search(str(inp.labels[idx])))
    return True


def _norm(inp: IsfInput, value: float) -> float:
    lo, hi = input_range(inp)
    return (value - lo) / (hi - lo) if hi != lo else 0.0


def auto_mappings(doc: IsfDocument, limit: int = 3) -> list[Mapping]:
    """Gentle default mappings for a scene that reads no audio (empty when it does)."""
    if scene_reads_audio(doc):
        return []
    out: list[Mapping] = []
    notes = [i for i in doc.inputs if i.type == "bool" and re.fullmatch(r"note(\d+)", i.name)]
    for inp in notes:
        n = int(inp.name[4:])
        if n < 12:
            out.append(Mapping(f"chroma{n}", inp.name, curve="linear", scale=1.0, offset=0.2,
                               release_ms=120.0))
    if notes:
        return out  # a note-driven scene: the chroma is the whole story
    floats = [i for i in doc.inputs if i.type == "float"]
    used: set[str] = set()
    for pattern, feature, depth in _AUTO_RULES:
        for inp in floats:
            if inp.name in used or not re.search(pattern, inp.name, re.I):
                continue
            out.append(_around(inp, feature, depth))
            used.add(inp.name)
            break
        if len(out) >= limit - 1:
            break
    if not out and floats:
        out.append(_around(floats[0], "bass", 0.4))
    points = [i for i in doc.inputs if i.type == "point2D"]
    if points and len(out) < limit:
        inp = points[0]
        for i, (comp, feature) in enumerate((("x", "sin_x05"), ("y", "bass_smooth"))):
            lo, hi = input_range(inp, i)
            d = (inp.default[i] - lo) / (hi - lo) if hi != lo else 0.5
            d = min(max(d, 0.15), 0.85)
            out.append(Mapping(feature, f"{inp.name}.{comp}", offset=d - 0.15, scale=0.3,
                               release_ms=80.0))
    colors = [i for i in doc.inputs if i.type == "color"]
    if colors and not floats and len(out) < limit:
        out.append(Mapping("level", colors[0].name, offset=0.45, scale=0.55, attack_ms=10.0,
                           release_ms=200.0))
    return out
