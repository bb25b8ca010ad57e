"""Address templates for OSC out: which address and which value shape each desk expects.

Pure data plus one resolver, shared by :mod:`liveai.config` (which checks a preset's names against
it) and :mod:`liveai.control.osc_out` (which sends with it). Each template follows its vendor's
documented OSC input (for QLC+, its OSC plugin's source); what that documentation does not confirm
is carried in the template's ``verify`` note, which the README repeats.

Two shapes of address:

* **key** — an event feature (``beat``, ``downbeat``, ``drop``, onsets): a press then,
  ``release_ms`` later, a release (grandMA3 keys: ``i 1`` then ``i 0``; elsewhere the top then
  the bottom of the target's range, i.e. a flash).
* **value** — a continuous feature (``bpm``, ``level``, ...): its input range (``scale``, default
  0..1, bpm 60..200) mapped linearly and clipped onto the target's range (grandMA3 faders 0..100;
  Eos subs, MagicQ playbacks, QLC+ and Resolume 0..1 floats).

``section`` is sent as ``s`` name, ``i`` code when it changes, whatever the template.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Event features: sent when they fire, as a press then a release on desk templates.
EVENT_FEATURES: dict[str, str] = {
    "beat": "every beat",
    "downbeat": "every bar's first beat",
    "drop": "the section turns to drop (the moment to hit the lights)",
    "onset": "any onset",
    "onset_low": "a kick-range onset",
    "onset_mid": "a snare-range onset",
    "onset_high": "a hat-range onset",
}
#: Continuous features: sent at ``osc_out.rate_hz``.
VALUE_FEATURES: dict[str, str] = {
    "bpm": "tempo (0 until known)",
    "confidence": "tempo confidence 0..1",
    "level": "loudness 0..1",
    "energy": "the last second against the usual level, 0..1",
    "beat_phase": "position in the beat 0..1",
    "bar_phase": "position in the bar 0..1",
    "crowd": "crowd noise at the room mic, 0 = 40 dB under the music .. 1 = as loud (needs the "
             "adaptive mixer with a room mic; 0 otherwise)",
    **{f"band{i}": f"band level {i} of 8 (low to high), 0..1" for i in range(1, 9)},
}
#: Sent when it changes as ``s`` name, ``i`` code.
OTHER_FEATURES: dict[str, str] = {"section": "s section name, i code (0 unknown .. 4 drop)"}
FEATURES: tuple[str, ...] = (*EVENT_FEATURES, *VALUE_FEATURES, *OTHER_FEATURES)

#: Input range of a value feature unless ``scale`` says otherwise.
DEFAULT_SCALE: dict[str, tuple[float, float]] = {"bpm": (60.0, 200.0)}


@dataclass(frozen=True)
class Template:
    """How one desk or tool wants liveai's features.

    Attributes
    ----------
    name : str
        The preset's ``template = "..."``.
    prefix : str
        Default replacement of ``{prefix}`` in the addresses.
    map : dict
        feature → address pattern.
    value_range : tuple of float
        Bottom and top of value-shaped addresses.
    value_int : bool
        Send values as ``i`` (else ``f``).
    key : tuple or None
        ``(press, release)`` of key-shaped addresses; ``None``: top then bottom of the range.
    scale : dict
        Template defaults for input ranges (feature → (low, high)).
    verify : str
        What the vendor's documentation did not confirm, to check on the desk ("" = nothing).
    """

    name: str
    prefix: str = ""
    map: dict[str, str] = field(default_factory=dict)
    value_range: tuple[float, float] = (0.0, 1.0)
    value_int: bool = False
    key: tuple[int, int] | None = None
    scale: dict[str, tuple[float, float]] = field(default_factory=dict)
    verify: str = ""


TEMPLATES: dict[str, Template] = {t.name: t for t in (
    # the native tree of osc_out.py (multi-argument messages); no map, no scale
    Template("liveai"),
    # grandMA3 manual, "Remote In and Out > OSC" and the SendOSC keyword: /<prefix>/Page<n>/Fader<n>
    # takes i or f 0..100, /<prefix>/Page<n>/Key<n> reads 0 as released and > 0 as pressed; the page
    # is required, the Page / Fader / Key words are the OSC line's (case-sensitive) defaults.
    # Executors 101-190 are key-only, 201-290 have a fader.
    Template("gma3", prefix="gma3", value_range=(0.0, 100.0), key=(1, 0), map={
        "beat": "/{prefix}/Page1/Key101", "downbeat": "/{prefix}/Page1/Key102",
        "drop": "/{prefix}/Page1/Key103", "onset_low": "/{prefix}/Page1/Key104",
        "level": "/{prefix}/Page1/Fader201", "energy": "/{prefix}/Page1/Fader202",
        "bpm": "/{prefix}/Page1/Fader203"}),
    # ETC's OSC command list: /eos/sub/<n>/fire takes a button edge (1.0 bump on, 0.0 bump off),
    # /eos/sub/<n> a float 0..1 sets the sub's level. Subs need no setup, unlike an OSC fader bank
    # (/eos/fader/<bank>/<n> only answers after /eos/fader/<bank>/config/<count>).
    Template("eos", map={
        "beat": "/eos/sub/1/fire", "downbeat": "/eos/sub/2/fire", "drop": "/eos/sub/3/fire",
        "level": "/eos/sub/4", "energy": "/eos/sub/5"}),
    # MagicQ manual, "Open Sound Control": /pb/<n> takes f 0..1 (or i 0..100) as the playback's
    # level, /pb/<n>/flash non-zero = 100 %, 0 = 0 %; only playbacks 1-10 have built-in addresses.
    Template("chamsys", map={
        "beat": "/pb/1/flash", "downbeat": "/pb/2/flash", "drop": "/pb/3/flash",
        "level": "/pb/4", "energy": "/pb/5"}),
    # QLC+ plugins/osc: any path becomes a channel (a 16-bit checksum of the path) on the universe
    # whose OSC input port (7700 + universe index) it arrives on; a float f is read as 255 * f, so
    # 0..1 floats cover 0..255 and nothing above 1.0 may be sent.
    Template("qlcplus", prefix="liveai", map={
        "beat": "/{prefix}/beat", "downbeat": "/{prefix}/downbeat", "drop": "/{prefix}/drop",
        "onset_low": "/{prefix}/onset/low", "onset_mid": "/{prefix}/onset/mid",
        "onset_high": "/{prefix}/onset/high", "bpm": "/{prefix}/bpm",
        "confidence": "/{prefix}/confidence", "level": "/{prefix}/level",
        "energy": "/{prefix}/energy", "beat_phase": "/{prefix}/phase/beat",
        "bar_phase": "/{prefix}/phase/bar",
        **{f"band{i}": f"/{{prefix}}/band/{i}" for i in range(1, 9)}}),
    # Resolume's OSC page confirms normalised floats on fixed /composition/... addresses; the tempo
    # controller, its 20..500 BPM range and the dashboard links come from user tools, not Resolume.
    Template("resolume", map={
        "bpm": "/composition/tempocontroller/tempo",
        "downbeat": "/composition/tempocontroller/resync",
        "level": "/composition/dashboard/link1", "energy": "/composition/dashboard/link2",
        "onset_low": "/composition/dashboard/link3"},
        scale={"bpm": (20.0, 500.0)},
        verify="the tempo controller, resync and dashboard link addresses, and tempo 20..500 BPM "
               "as 0..1 (Shortcuts > Edit OSC shows each control's address)"),
    Template("custom"),
)}


@dataclass(frozen=True)
class Route:
    """One feature → one address of one target, with its value conversion."""

    feature: str
    address: str
    shape: str  # "key", "value" or "section"
    in_range: tuple[float, float] = (0.0, 1.0)
    out_range: tuple[float, float] = (0.0, 1.0)
    as_int: bool = False
    press: float | int = 1.0
    release: float | int = 0.0

    def value(self, x: float) -> float | int:
        """Map ``x`` from the input range onto the output range, clipped."""
        lo, hi = self.in_range
        t = min(1.0, max(0.0, (x - lo) / (hi - lo))) if x == x else 0.0  # NaN → bottom
        out = self.out_range[0] + t * (self.out_range[1] - self.out_range[0])
        return int(round(out)) if self.as_int else float(out)


def routes(template: str, prefix: str = "", mapping: dict | None = None,
           scale: dict | None = None, value_range: list | tuple = ()) -> list[Route]:
    """The routes of one target (names already checked by the config).

    Parameters
    ----------
    template : str
        A key of :data:`TEMPLATES` other than ``liveai``.
    prefix : str
        Replaces ``{prefix}`` ("" = the template's).
    mapping : dict
        feature → address added to or replacing the template's ("" drops the feature).
    scale : dict
        feature → [low, high] input range.
    value_range : sequence of 2 floats
        Output range of value addresses (empty = the template's).
    """
    t = TEMPLATES[template]
    full = {**t.map, **(mapping or {})}
    out = tuple(float(v) for v in value_range) if value_range else t.value_range
    press, release = t.key if t.key is not None else (out[1], out[0])
    if t.key is None and t.value_int:  # pragma: no cover - no such template yet
        press, release = int(press), int(release)
    result = []
    for feature, pattern in full.items():
        if not pattern:
            continue
        address = pattern.replace("{prefix}", prefix or t.prefix)
        if feature in EVENT_FEATURES:
            result.append(Route(feature, address, "key", press=press, release=release))
        elif feature in VALUE_FEATURES:
            rng = (scale or {}).get(feature) or t.scale.get(feature) or DEFAULT_SCALE.get(
                feature, (0.0, 1.0))
            result.append(Route(feature, address, "value", in_range=(float(rng[0]),
                                float(rng[1])), out_range=out, as_int=t.value_int))
        else:
            result.append(Route(feature, address, "section"))
    return result
