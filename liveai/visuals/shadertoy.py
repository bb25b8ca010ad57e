"""Shadertoy single-pass ``mainImage`` shaders: wrapping into GLSL 3.30 (text only, no GL).

A Shadertoy image shader defines ``void mainImage(out vec4 fragColor, in vec2 fragCoord)`` and
reads the Shadertoy uniforms. The wrapper declares those uniforms (and the old names that real
files still use), maps WebGL 1 / GLSL ES names to GLSL 3.30 core, adds liveai's audio uniforms,
and calls ``mainImage`` from ``main``. ``#line`` keeps compiler messages on the file's lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from liveai.visuals.isf import ShaderError, rename_identifiers, strip_version
from liveai.visuals.uniforms import audio_uniform_declarations

SHADERTOY_UNIFORMS = """\
uniform vec3 iResolution;
uniform float iTime;
uniform float iTimeDelta;
uniform float iFrameRate;
uniform int iFrame;
uniform float iChannelTime[4];
uniform vec3 iChannelResolution[4];
uniform vec4 iMouse;
uniform vec4 iDate;
uniform float iSampleRate;
uniform sampler2D iChannel0;
uniform sampler2D iChannel1;
uniform sampler2D iChannel2;
uniform sampler2D iChannel3;
"""

_VERTEX = """\
#version 330
in vec2 isf_position;
void main() {
    gl_Position = vec4(isf_position, 0.0, 1.0);
}
"""

_MAIN_IMAGE_RE = re.compile(r"\bvoid\s+mainImage\s*\(")
_UNIFORM_DECL_RE = re.compile(r"^[ \t]*uniform\s+\w+\s+(i\w+)\s*(\[\s*\d*\s*\])?\s*;", re.M)
_CHANNEL_RE = re.compile(r"\biChannel([0-3])\b")

_RENAMES = (
    ("iGlobalTime", "iTime", "old name iGlobalTime → iTime"),
    ("texture2D", "texture", "texture2D → texture"),
    ("texture2DLod", "textureLod", "texture2DLod → textureLod"),
    ("texture2DLodEXT", "textureLod", "texture2DLodEXT → textureLod"),
    ("textureCube", "texture", "textureCube → texture"),
    ("gl_FragColor", "st_FragColor", "gl_FragColor → out vec4"),
)


@dataclass
class ShadertoyDocument:
    """A Shadertoy image shader ready to compile.

    Attributes
    ----------
    channels : set of int
        The ``iChannelN`` a shader samples (channels nobody feeds get default textures).
    """

    path: Path
    source: str
    channels: set[int] = field(default_factory=set)
    rules: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        """The first comment line, if the file starts with one."""
        m = re.match(r"\s*//\s*(.+)", self.source)
        return m.group(1).strip() if m else ""


def parse_shadertoy(text: str, path: str | Path = "<shader>") -> ShadertoyDocument:
    """Check a Shadertoy file and note which channels it uses.

    Raises
    ------
    ShaderError
        There is no ``mainImage`` function.
    """
    if not _MAIN_IMAGE_RE.search(text):
        raise ShaderError(str(path), "not a Shadertoy image shader: no 'void mainImage(out vec4 "
                          "fragColor, in vec2 fragCoord)' function")
    channels = {int(c) for c in _CHANNEL_RE.findall(text)}
    return ShadertoyDocument(path=Path(path), source=text, channels=channels)


def load_shadertoy(path: str | Path) -> ShadertoyDocument:
    """Read and check a ``.glsl`` Shadertoy file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ShaderError(str(p), f"cannot read the file: {exc.strerror or exc}") from None
    return parse_shadertoy(text, p)


def build_sources(doc: ShadertoyDocument) -> tuple[str, str, list[str]]:
    """Build GLSL 3.30 vertex and fragment sources for a Shadertoy document.

    Returns
    -------
    vertex, fragment : str
    rules : list of str
        The compatibility rules that fired.
    """
    rules = list(doc.rules)
    code = strip_version(doc.source, rules)
    # Files pasted from other hosts sometimes declare the Shadertoy uniforms themselves.
    own = {m.group(1) for m in _UNIFORM_DECL_RE.finditer(code)}
    declared = [line for line in SHADERTOY_UNIFORMS.splitlines()
                if line.split()[2].split("[")[0].rstrip(";") not in own]
    host_names = {line.split()[2].split("[")[0].rstrip(";")
                  for line in SHADERTOY_UNIFORMS.splitlines()}
    if own & host_names:
        rules.append("shader declares Shadertoy uniforms itself (host's left out)")
    code = rename_identifiers(code, _RENAMES, rules)
    if re.search(r"^[ \t]*precision\s+\w+\s+\w+\s*;", code, re.M):
        rules.append("precision qualifiers kept (no effect on desktop GL)")
    if re.search(r"\btexelFetch\s*\(\s*iChannel", code):
        rules.append("texelFetch on a channel texture (exact 512x2 audio layout)")
    unfed = sorted(doc.channels)
    if unfed:
        rules.append("channels " + ", ".join(f"iChannel{c}" for c in unfed)
                     + " sampled (audio on iChannel0, default textures on the rest)")
    uses_gl_frag = "st_FragColor" in code
    # Files exported from other hosts bring their own main() calling mainImage: keep theirs.
    own_main = re.search(r"\bvoid\s+main\s*\(", code) is not None
    if own_main:
        rules.append("the file has its own main() (host's wrapper left out)")
    fragment = (
        "#version 330\n"
        "out vec4 st_FragColor;\n"
        + "\n".join(declared) + "\n"
        + audio_uniform_declarations() + "\n"
        + "#line 1\n"
        + code + "\n"
        + ("" if own_main else
           "void main() {\n    vec4 c = vec4(0.0, 0.0, 0.0, 1.0);\n"
           "    mainImage(c, gl_FragCoord.xy);\n"
           + ("" if uses_gl_frag else "    st_FragColor = c;\n")
           + "}\n")
    )
    doc.rules[:] = rules
    return _VERTEX, fragment, rules
