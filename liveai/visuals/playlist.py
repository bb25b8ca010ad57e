"""The show's playlist as text: scene files, their keys, their mappings. No GL here.

The engine (which never imports GL) and every projector read the same preset through these
functions, so they agree on which scenes there are, what their parameters are called and which
mappings they have, whichever scenes compile on a projector.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

from liveai.config import SceneConfig, VisualsConfig
from liveai.visuals import isf as isf_mod
from liveai.visuals import shadertoy as st_mod
from liveai.visuals.isf import IsfDocument, ShaderError
from liveai.visuals.mapping import Mapping, MappingError, auto_mappings
from liveai.visuals.shadertoy import ShadertoyDocument

log = logging.getLogger(__name__)

#: liveai's own scenes, beside the package in a source checkout.
PACKAGED_SHADERS_DIR = Path(__file__).resolve().parents[2] / "shaders"
SCENE_SUFFIXES = (".fs", ".glsl", ".frag")


def load_document(path: str | Path) -> IsfDocument | ShadertoyDocument:
    """Parse a scene file by its suffix: ``.fs`` (ISF) or ``.glsl``/``.frag`` (Shadertoy).

    A ``.fs`` without an ISF header but with ``mainImage`` is taken as Shadertoy, and vice versa.

    Raises
    ------
    ShaderError
        Unreadable, unknown kind, or malformed.
    """
    p = Path(path)
    if not p.is_file():
        raise ShaderError(str(p), "no such file")
    text = p.read_text(encoding="utf-8", errors="replace")
    suffix = p.suffix.lower()
    if suffix in (".glsl", ".frag", ".shadertoy") or (
            "mainImage" in text and "/*" not in text.split("mainImage")[0]):
        return st_mod.parse_shadertoy(text, p)
    return isf_mod.load_isf(p)



def scene_search_dirs(config: VisualsConfig, base_dir: Path | None) -> list[Path]:
    """Folders searched for a scene named without a path: the preset's, then liveai's own."""
    dirs = []
    for d in config.shader_dirs:
        p = Path(d).expanduser()
        dirs.append(p if p.is_absolute() or base_dir is None else base_dir / p)
    if base_dir is not None:
        dirs.append(base_dir.parent / "shaders")
    dirs.append(PACKAGED_SHADERS_DIR)
    unique: list[Path] = []
    for d in dirs:
        if d.resolve() not in [u.resolve() for u in unique]:
            unique.append(d)
    return unique


def resolve_scene(name: str, dirs: list[Path]) -> Path:
    """Find a scene file by path or by name in ``dirs``.

    Raises
    ------
    ShaderError
        Nothing matches; the message lists the folders searched.
    """
    p = Path(name).expanduser()
    if p.suffix.lower() in SCENE_SUFFIXES or "/" in name:
        if p.is_file():
            return p
        for d in dirs:
            if (d / name).is_file():
                return d / name
        raise ShaderError(name, "scene file not found")
    for d in dirs:
        for suffix in SCENE_SUFFIXES:
            if (d / f"{name}{suffix}").is_file():
                return d / f"{name}{suffix}"
    raise ShaderError(name, "no such scene (looked in " + ", ".join(str(d) for d in dirs) + ")")


def playlist_entries(config: VisualsConfig, dirs: list[Path]) -> list[SceneConfig]:
    """The preset's scenes, or every scene file in ``dirs`` when the preset lists none."""
    if config.scenes:
        return list(config.scenes)
    return [SceneConfig(file=str(p)) for p in all_scene_files(dirs)]


def scene_key(name: str) -> str:
    """A scene or input name as one OSC address segment (``Spectrum Sun`` → ``spectrum_sun``)."""
    key = re.sub(r"[^a-z0-9_.-]+", "_", name.strip().lower()).strip("_.")
    return key or "scene"


def playlist_keys(entries: list[SceneConfig], dirs: list[Path]) -> list[str]:
    """One address segment per playlist entry: the file's name, ``_2``, ``_3`` for repeats.

    The engine (registering ``/liveai/scenes/<key>/...``) and every projector (applying them)
    compute the same keys from the same preset, whichever scenes compile.
    """
    keys: list[str] = []
    for entry in entries:
        try:
            stem = resolve_scene(entry.file, dirs).stem
        except ShaderError:
            stem = Path(entry.file).stem
        key = base = scene_key(stem)
        n = 1
        while key in keys:
            n += 1
            key = f"{base}_{n}"
        keys.append(key)
    return keys


def scene_mappings(doc: IsfDocument, entry: SceneConfig, automap: bool,
                   where: str | None = None) -> list[Mapping]:
    """A scene's mappings: the preset's, or the automatic ones; invalid ones left out.

    The engine (registering ``/liveai/mappings/...``) and the projector (applying them) call
    this on the same preset, so both count the same mappings.

    Parameters
    ----------
    where : str, optional
        The scene file's name: each mapping left out is logged with it (None: silently).
    """
    mappings = [Mapping(m.source, m.target, m.scale, m.offset, m.curve, m.attack_ms,
                        m.release_ms) for m in entry.map]
    if not mappings and automap:
        mappings = auto_mappings(doc)
    good = []
    for m in mappings:
        try:
            m.validate(doc)
            good.append(m)
        except MappingError as exc:
            if where is not None:
                log.warning("%s: mapping %s → %s ignored: %s", where, m.source, m.target, exc)
    return good


def all_scene_files(dirs: list[Path]) -> list[Path]:
    """Every scene file in the folders (sorted, first folder first, names unique)."""
    seen: set[str] = set()
    out = []
    for d in dirs:
        if not d.is_dir():
            continue
        for f in sorted(d.iterdir()):
            if f.suffix.lower() in SCENE_SUFFIXES and f.stem not in seen:
                seen.add(f.stem)
                out.append(f)
    return out


def coerce_param(inp: Any, value: Any) -> Any:
    """A preset value for an ISF input, in the uniform's Python type; ValueError if it cannot be."""
    t = inp.type
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(
        value)
    vector = isinstance(value, list) and all(
        isinstance(c, (int, float)) and math.isfinite(c) for c in value)
    if t in ("bool", "event") and isinstance(value, (bool, int, float)):
        return bool(value)
    if t == "float" and number:
        return float(value)
    if t == "long" and number:
        return int(round(value))
    if t == "long" and isinstance(value, str) and value in inp.labels:
        return int(inp.values[inp.labels.index(value)])
    if t == "point2D" and vector and len(value) == 2:
        return (float(value[0]), float(value[1]))
    if t == "color" and vector and len(value) in (3, 4):
        rgba = [min(max(float(c), 0.0), 1.0) for c in value]
        return tuple(rgba + [1.0] * (4 - len(rgba)))
    raise ValueError(f"{value!r} does not fit a {t} input")
