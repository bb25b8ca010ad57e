"""Every live scene's inputs and mappings as parameters.

Inputs are ``/liveai/scenes/<scene>/<input>``, mappings ``/liveai/mappings/<scene>/<n>/<field>``.

The engine registers them from the preset (parsing the scene files as text, no GL) so OSC,
OSCQuery and MIDI reach them like any other parameter; each projector, reading the same preset,
finds the same addresses in the shared snapshot and applies what moves to its compiled scenes.
A hand-set value is the base that mappings modulate around (:meth:`Layer.set_input`).

Types follow the ISF input: ``float`` → float (the file's MIN/MAX; a file without them gets
0 .. max(1, 2 × default)), ``bool`` → bool, ``event`` → trigger, ``long`` → a choice of its
LABELS (or VALUES) or an int, ``color`` → 4 floats 0..1, ``point2D`` → 2 floats (the file's
range, or ±4096 pixels without one). Image and audio inputs are not controllable.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from liveai.config import VisualsConfig
from liveai.params import ParameterError, ParamSpec, ParamType
from liveai.visuals.isf import IsfDocument, IsfInput, ShaderError
from liveai.visuals.mapping import CURVES, FEATURE_NAMES, Mapping, MappingError
from liveai.visuals.playlist import (
    coerce_param,
    load_document,
    playlist_entries,
    playlist_keys,
    resolve_scene,
    scene_mappings,
    scene_search_dirs,
)

log = logging.getLogger(__name__)

#: Root of the scene inputs in the address tree.
SCENES_ROOT = "/liveai/scenes"
#: Root of the scenes' mappings: /liveai/mappings/<scene>/<n>/<field>, n from 1.
MAPPINGS_ROOT = "/liveai/mappings"
#: The longest smoothing a desk can set on a mapping, ms.
MAX_SMOOTHING_MS = 10000.0
#: The range of a point2D input whose file gives none, in pixels either way.
POINT_RANGE_PX = 4096.0


def input_address(key: str, inp: IsfInput) -> str:
    """The address of one input of the scene at playlist key ``key``."""
    return f"{SCENES_ROOT}/{key}/{inp.name}"


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _range(inp: IsfInput, default: float) -> tuple[float, float]:
    lo, hi = inp.minimum, inp.maximum
    if _finite(lo) and _finite(hi) and lo != hi:
        return float(min(lo, hi)), float(max(lo, hi))
    return min(0.0, default), max(1.0, 2.0 * default)


def _vector_range(inp: IsfInput) -> tuple[float, float]:
    lo, hi = inp.minimum, inp.maximum
    comps = [c for v in (lo, hi) if isinstance(v, list | tuple) for c in v]
    if comps and all(_finite(c) for c in comps) and min(comps) < max(comps):
        return float(min(comps)), float(max(comps))
    return -POINT_RANGE_PX, POINT_RANGE_PX


def _choices(inp: IsfInput) -> tuple[str, ...]:
    """The names of a ``long`` input's entries, or () when it is a plain integer."""
    if not inp.values:
        return ()
    names = [str(x) for x in (inp.labels if len(inp.labels) == len(inp.values) else inp.values)]
    # A choice needs distinct names; a file with repeated labels gets them numbered.
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return tuple(out)


def input_spec(key: str, scene_name: str, inp: IsfInput, preset_value: Any = None
               ) -> ParamSpec | None:
    """The parameter for one ISF input, or None for inputs a desk cannot set (images, audio).

    Parameters
    ----------
    key : str
        The scene's playlist key (:func:`liveai.visuals.show.playlist_keys`).
    scene_name : str
        For the description.
    inp : IsfInput
    preset_value : optional
        The preset's ``params`` value for the input; the parameter starts there.
    """
    value = inp.default
    if preset_value is not None:
        try:
            value = coerce_param(inp, preset_value)
        except ValueError:
            pass  # the projector logs it; the file's default stands
    address = input_address(key, inp)
    what = f"{scene_name}: {inp.label}"
    t = inp.type
    if t == "float":
        d = float(value) if _finite(value) else 0.0
        lo, hi = _range(inp, d)
        return ParamSpec(address, ParamType.FLOAT, min(max(d, lo), hi), lo, hi,
                         description=what)
    if t == "bool":
        return ParamSpec(address, ParamType.BOOL, bool(value), description=what)
    if t == "event":
        return ParamSpec(address, ParamType.TRIGGER, description=f"{what} (fire once)")
    if t == "long":
        names = _choices(inp)
        if names:
            values = [int(v) for v in inp.values]
            i = values.index(int(value)) if _finite(value) and int(value) in values else 0
            return ParamSpec(address, ParamType.CHOICE, names[i], choices=names,
                             description=what)
        d = int(value) if _finite(value) else 0
        lo, hi = _range(inp, d)
        lo_i, hi_i = math.floor(lo), math.ceil(hi)
        return ParamSpec(address, ParamType.INT, min(max(d, lo_i), hi_i), lo_i, hi_i,
                         description=what)
    if t == "color":
        rgba = tuple(float(c) for c in value) if isinstance(value, list | tuple) else (1.0,) * 4
        rgba = tuple(min(max(c, 0.0), 1.0) for c in (*rgba, 1.0, 1.0, 1.0, 1.0)[:4])
        return ParamSpec(address, ParamType.FLOAT, rgba, 0.0, 1.0, size=4,
                         description=f"{what} (r, g, b, a)")
    if t == "point2D":
        lo, hi = _vector_range(inp)
        xy = tuple(float(c) for c in value) if isinstance(value, list | tuple) else (0.0, 0.0)
        xy = tuple(min(max(c, lo), hi) for c in (*xy, 0.0, 0.0)[:2])
        return ParamSpec(address, ParamType.FLOAT, xy, lo, hi, size=2,
                         description=f"{what} (x, y)")
    return None


def mapping_address(key: str, index: int, field: str) -> str:
    """The address of a field of the scene's mapping ``index`` (0-based; addresses from 1)."""
    return f"{MAPPINGS_ROOT}/{key}/{index + 1}/{field}"


def mapping_specs(key: str, scene_name: str, index: int, m: Mapping) -> list[ParamSpec]:
    """The parameters of one mapping: enabled, source, depth, curve, attack_ms, release_ms.

    ``depth`` multiplies the preset's ``scale`` (0 = no movement, 1 = as the preset says, 2 =
    twice as much): a fader that means the same on every mapping.
    """
    what = f"{scene_name}: mapping {index + 1}, {m.source} → {m.target}"
    a = lambda field: mapping_address(key, index, field)  # noqa: E731
    smooth = MAX_SMOOTHING_MS
    return [
        ParamSpec(a("enabled"), ParamType.BOOL, True, description=f"{what}: on/off"),
        ParamSpec(a("source"), ParamType.CHOICE, m.source, choices=FEATURE_NAMES,
                  description=f"{what}: the audio feature it follows"),
        ParamSpec(a("depth"), ParamType.FLOAT, 1.0, 0.0, 2.0,
                  description=f"{what}: how far it moves (× the preset's scale)"),
        ParamSpec(a("curve"), ParamType.CHOICE, m.curve, choices=CURVES,
                  description=f"{what}: shape applied to the feature"),
        ParamSpec(a("attack_ms"), ParamType.FLOAT, min(m.attack_ms, smooth), 0.0, smooth, unit="ms",
                  description=f"{what}: smoothing while rising"),
        ParamSpec(a("release_ms"), ParamType.FLOAT, min(m.release_ms, smooth), 0.0, smooth,
                  unit="ms", description=f"{what}: smoothing while falling"),
    ]


def scene_parameters(config: VisualsConfig, base_dir: Path | None) -> list[ParamSpec]:
    """Parameters for every input of every scene in the preset's playlist.

    A scene that cannot be read is left out here as the projector leaves it out of the show
    (the projector logs why); nothing raises.
    """
    dirs = scene_search_dirs(config, base_dir)
    entries = playlist_entries(config, dirs)
    specs: list[ParamSpec] = []
    for entry, key in zip(entries, playlist_keys(entries, dirs), strict=True):
        try:
            doc = load_document(resolve_scene(entry.file, dirs))
        except (ShaderError, ValueError, OSError):
            continue
        if not isinstance(doc, IsfDocument):
            continue  # Shadertoy scenes have no inputs
        name = Path(entry.file).stem
        for inp in doc.inputs:
            spec = input_spec(key, name, inp, entry.params.get(inp.name))
            if spec is not None:
                specs.append(spec)
        for i, m in enumerate(scene_mappings(doc, entry, config.automap)):
            specs.extend(mapping_specs(key, name, i, m))
    return specs


def register_scene_parameters(store: Any, config: VisualsConfig, base_dir: Path | None) -> int:
    """Register :func:`scene_parameters` in ``store``; returns how many were added.

    A store that is full or an address that clashes is reported and skipped: the show runs
    with the inputs it could register.
    """
    specs = scene_parameters(config, base_dir)
    remaining = specs
    while remaining:
        try:
            store.register_many(remaining)
            break
        except ParameterError as exc:  # register_many keeps what it added before the bad one
            log.warning("a scene input is not controllable: %s", exc)
            bad = next((i for i, s in enumerate(remaining) if store.spec(s.address) != s),
                       len(remaining))
            remaining = remaining[bad + 1:]
    n = sum(1 for s in specs if store.spec(s.address) == s)
    if n:
        log.info("%d scene inputs controllable under %s/", n, SCENES_ROOT)
    return n


def snapshot_value(inp: IsfInput, value: float | tuple[float, ...], choices: tuple[str, ...]
                   ) -> Any:
    """A numeric snapshot value (a choice's index) as the uniform's Python value."""
    t = inp.type
    if t == "bool":
        return bool(value)
    if t == "long":
        if choices and inp.values:
            i = int(value)
            return int(inp.values[i]) if 0 <= i < len(inp.values) else None
        return int(value)
    if t in ("color", "point2D"):
        return tuple(float(c) for c in value) if isinstance(value, tuple) else None
    return float(value)


class SceneInputFollower:
    """Projector side: applies moved ``/liveai/scenes/...`` values to the compiled scenes.

    Parameters
    ----------
    params : SharedParams
        The engine's snapshot, attached.
    layers : list of Layer
        The show's playlist (``VisualShow.layers``).
    """

    def __init__(self, params: Any, layers: list[Any]) -> None:
        self.params = params
        self.layers = layers
        self._last: dict[str, Any] = {}
        self._scene_ids: dict[int, int] = {}

    def stale(self) -> bool:
        """True when a scene was reloaded from disk since the last :meth:`poll`."""
        return any(self._scene_ids.get(i) != id(layer.scene)
                   for i, layer in enumerate(self.layers))

    def poll(self) -> int:
        """Apply what moved since the last call (everything for a new or reloaded scene).

        Returns
        -------
        int
            Inputs set.
        """
        n = 0
        get = self.params.value
        for i, layer in enumerate(self.layers):
            doc = layer.scene.doc
            if not isinstance(doc, IsfDocument):
                continue
            fresh = self._scene_ids.get(i) != id(layer.scene)  # new, or reloaded from disk
            self._scene_ids[i] = id(layer.scene)
            for inp in doc.inputs:
                address = input_address(layer.key, inp)
                value = get(address)
                if value is None:
                    continue
                old = self._last.get(address)
                self._last[address] = value
                if inp.type == "event":
                    if old is not None and value != old:
                        layer.set_input(inp.name, True)
                        n += 1
                    continue
                if value == old and not fresh:
                    continue
                v = snapshot_value(inp, value, self.params.choices(address))
                if v is not None:
                    try:
                        layer.set_input(inp.name, v)
                        n += 1
                    except (ValueError, TypeError, KeyError) as exc:
                        log.warning("%s: input '%s' not set: %s", layer.name, inp.name, exc)
            n += self._poll_mappings(layer, fresh)
        return n

    def _poll_mappings(self, layer: Any, fresh: bool) -> int:
        """Apply moved /liveai/mappings/<scene>/<n>/... values to the layer's mappings."""
        n = 0
        get = self.params.value
        for i, default in enumerate(getattr(layer, "mapping_defaults", ())):
            values = {}
            moved = fresh
            for field in ("enabled", "source", "depth", "curve", "attack_ms", "release_ms"):
                address = mapping_address(layer.key, i, field)
                value = get(address)
                if value is None:
                    break
                moved = moved or value != self._last.get(address)
                self._last[address] = value
                values[field] = value
            if len(values) < 6 or not moved:
                continue
            source = self.params.choice(mapping_address(layer.key, i, "source"),
                                        values["source"])
            curve = self.params.choice(mapping_address(layer.key, i, "curve"), values["curve"])
            scale = default.scale * float(values["depth"]) * (1.0 if values["enabled"] else 0.0)
            try:
                layer.set_mapping(i, source=source or default.source, curve=curve or default.curve,
                                  scale=scale, attack_ms=float(values["attack_ms"]),
                                  release_ms=float(values["release_ms"]))
                n += 1
            except MappingError as exc:
                log.warning("%s: mapping %d not changed: %s", layer.name, i + 1, exc)
        return n

