"""ISF 2.0 parsing and GLSL translation (no GL here: text in, text out).

An ISF file is GLSL 1.x style fragment code whose first ``/* ... */`` comment is a JSON header
(INPUTS, PASSES, IMPORTED, ...). This module reads the header leniently, the way real files are
written (keys in any case, ``MIN`` above ``MAX``, ``ISFVSN`` missing or a number, trailing
commas),
and builds GLSL 3.30 core sources: our own ``#version``, uniforms for the built-ins, the inputs and
liveai's audio features, the ``IMG_*`` functions as macros, and the GLSL 1.x names mapped to 3.30
ones. ``#line`` keeps compiler messages on the line numbers of the user's file.

Every rewrite applied to a file is recorded as a *compatibility rule* so that
``liveai scenes check`` can say what it had to do.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liveai.errors import LiveAIError
from liveai.visuals.uniforms import audio_uniform_declarations

#: GLSL type of the uniform each ISF INPUT type becomes.
INPUT_GLSL_TYPES = {
    "event": "bool",
    "bool": "bool",
    "long": "int",
    "float": "float",
    "point2D": "vec2",
    "color": "vec4",
    "image": "sampler2D",
    "audio": "sampler2D",
    "audioFFT": "sampler2D",
}
IMAGE_TYPES = ("image", "audio", "audioFFT")
#: Largest pass target we allocate (pixels per side), whatever a size expression says.
MAX_TARGET_SIDE = 8192
#: Columns given to an ``audio``/``audioFFT`` input that does not ask for a number (``MAX``).
DEFAULT_AUDIO_COLUMNS = 512


class ShaderError(LiveAIError):
    """A scene file that cannot be read, parsed or compiled.

    Parameters
    ----------
    path : str
        The file, as the user named it.
    message : str
        What is wrong, in words a VJ understands.
    line : int or None
        1-based line in the user's file, when known.
    """

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = message
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class IsfInput:
    """One ISF INPUT.

    Attributes
    ----------
    name, type : str
        ``NAME`` and ``TYPE`` as written (type normalised to the spec's spelling).
    label : str
        ``LABEL`` or the name.
    default : Any
        The value before anyone touches it: float, int, bool, tuple of 2 or 4 floats, or None
        for image-like inputs.
    minimum, maximum : Any
        ``MIN``/``MAX`` as written (``MIN`` may be above ``MAX``); None when absent.
    values, labels : tuple
        ``VALUES``/``LABELS`` of a ``long`` input.
    """

    name: str
    type: str
    label: str
    default: Any
    minimum: Any = None
    maximum: Any = None
    identity: Any = None
    values: tuple = ()
    labels: tuple = ()

    @property
    def glsl_type(self) -> str:
        """The uniform's GLSL type."""
        return INPUT_GLSL_TYPES[self.type]

    @property
    def audio_columns(self) -> int:
        """Columns an ``audio``/``audioFFT`` input asks for (its ``MAX``), else the default."""
        if isinstance(self.maximum, (int, float)) and self.maximum >= 1:
            return int(min(self.maximum, 8192))
        return DEFAULT_AUDIO_COLUMNS


@dataclass(frozen=True)
class IsfPass:
    """One entry of PASSES (``{}`` renders to the output)."""

    target: str = ""
    persistent: bool = False
    float_target: bool = False
    width: str = ""
    height: str = ""


@dataclass(frozen=True)
class IsfImport:
    """One IMPORTED image: the uniform name and the file it comes from."""

    name: str
    path: Path


@dataclass
class IsfDocument:
    """A parsed ISF file: header, code, and what the host must provide.

    Attributes
    ----------
    path : Path
        The ``.fs`` file.
    source : str
        The fragment code, whole (the JSON comment stays, so line numbers match the file).
    vertex_source : str or None
        The matching ``.vs`` file's code, when there is one.
    kind : str
        ``generator``, ``filter`` (has ``inputImage``) or ``transition`` (``startImage``,
        ``endImage``, ``progress``).
    """

    path: Path
    source: str
    header: dict
    inputs: list[IsfInput]
    passes: list[IsfPass]
    imported: list[IsfImport]
    vertex_source: str | None = None
    rules: list[str] = field(default_factory=list)

    @property
    def description(self) -> str:
        """The header's DESCRIPTION, one line."""
        return " ".join(str(self.header.get("DESCRIPTION", "")).split())

    @property
    def categories(self) -> list[str]:
        """The header's CATEGORIES."""
        cats = self.header.get("CATEGORIES", [])
        return [str(c) for c in cats] if isinstance(cats, list) else []

    @property
    def kind(self) -> str:
        """generator, filter or transition."""
        names = {i.name for i in self.inputs}
        if {"startImage", "endImage", "progress"} <= names:
            return "transition"
        if "inputImage" in names:
            return "filter"
        return "generator"

    def input(self, name: str) -> IsfInput | None:
        """The input called ``name``, or None."""
        for i in self.inputs:
            if i.name == name:
                return i
        return None


_HEADER_RE = re.compile(r"/\*(.*?)\*/", re.S)
_TRAILING_COMMA_RE = re.compile(r",\s*([\]}])")
# A key missing its opening quote (``ISFVSN" : "2"``, seen in a real file) or both quotes.
_BAD_KEY_RE = re.compile(r'([{,]\s*)"?([A-Za-z_][A-Za-z0-9_]*)"?(\s*:)')
_TYPE_ALIASES = {t.lower(): t for t in INPUT_GLSL_TYPES}
_TYPE_ALIASES["audiofft"] = "audioFFT"
_TYPE_ALIASES["point2d"] = "point2D"


def _lower_keys(obj: dict) -> dict:
    return {str(k).upper(): v for k, v in obj.items()}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            v = float(value)
        except ValueError:
            return None
        return v if math.isfinite(v) else None
    return None


def _vector(value: Any, n: int, fill: float) -> tuple[float, ...] | None:
    if not isinstance(value, (list, tuple)):
        return None
    out = [_number(v) for v in value[:n]]
    if any(v is None for v in out):
        return None
    out += [fill] * (n - len(out))
    return tuple(out)  # type: ignore[arg-type]


def _default_for(kind: str, raw: dict, path: str, name: str) -> Any:
    """The DEFAULT of one input, falling back to what VVISF does when it is missing."""
    default = raw.get("DEFAULT")
    lo, hi = _number(raw.get("MIN")), _number(raw.get("MAX"))
    if kind in ("event", "bool"):
        return bool(_number(default) or 0.0)
    if kind == "float":
        v = _number(default)
        if v is None:
            v = 0.5 * (lo + hi) if lo is not None and hi is not None else 0.0
        return v
    if kind == "long":
        v = _number(default)
        if v is None:
            values = raw.get("VALUES")
            v = _number(values[0]) if isinstance(values, list) and values else None
        if v is None:
            v = lo if lo is not None else 0.0
        return int(v)
    if kind == "point2D":
        return _vector(default, 2, 0.0) or (0.0, 0.0)
    if kind == "color":
        return _vector(default, 4, 1.0) or (0.0, 0.0, 0.0, 1.0)
    return None


def extract_header(text: str, path: str = "<shader>") -> tuple[dict, str]:
    """Split an ISF file into its JSON header and the code.

    Returns
    -------
    header : dict
        The parsed JSON object.
    rule : str
        A compatibility rule that fired while reading it ("" when none).

    Raises
    ------
    ShaderError
        No ``/* ... */`` comment, or one that is not a JSON object even leniently read.
    """
    m = _HEADER_RE.search(text)
    if m is None:
        raise ShaderError(path, "no ISF header: the file must start with a /* { JSON } */ comment")
    body = m.group(1).strip()
    line = text.count("\n", 0, m.start()) + 1
    try:
        header = json.loads(body)
        rule = ""
    except json.JSONDecodeError as exc:
        # Hand-written headers carry trailing commas and badly quoted keys; repair those (and
        # say so), report anything else with the line of the first error.
        fixed = _TRAILING_COMMA_RE.sub(r"\1", body)
        rule = "header: trailing commas in the JSON accepted"
        try:
            header = json.loads(fixed)
        except json.JSONDecodeError:
            try:
                header = json.loads(_BAD_KEY_RE.sub(r'\1"\2"\3', fixed))
                rule = "header: badly quoted JSON keys repaired"
            except json.JSONDecodeError:
                raise ShaderError(path, f"the ISF header is not valid JSON: {exc.msg}",
                                  line + body[:exc.pos].count("\n")) from None
    if not isinstance(header, dict):
        raise ShaderError(path, "the ISF header must be a JSON object {...}", line)
    return header, rule


def parse_isf(text: str, path: str | Path = "<shader>", vertex_text: str | None = None
              ) -> IsfDocument:
    """Parse an ISF 2.0 (or 1.x) fragment shader.

    Parameters
    ----------
    text : str
        The ``.fs`` file's contents.
    path : str or Path
        Where it came from (messages, IMPORTED paths).
    vertex_text : str, optional
        The ``.vs`` file's contents, if any.

    Raises
    ------
    ShaderError
        The header is missing or malformed, or an input has no name or an unknown type.
    """
    spath = str(path)
    header_raw, rule = extract_header(text, spath)
    rules = [rule] if rule else []
    header = _lower_keys(header_raw)
    if "ISFVSN" not in header:
        rules.append("header: no ISFVSN key (treated as ISF 2.0)")
    inputs: list[IsfInput] = []
    seen: set[str] = set()
    raw_inputs = header.get("INPUTS", [])
    if not isinstance(raw_inputs, list):
        raise ShaderError(spath, "INPUTS must be a list")
    for n, raw in enumerate(raw_inputs):
        if not isinstance(raw, dict):
            raise ShaderError(spath, f"INPUTS[{n}] must be an object")
        raw = _lower_keys(raw)
        name = raw.get("NAME")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise ShaderError(spath, f"INPUTS[{n}] has no valid NAME: {name!r}")
        kind = _TYPE_ALIASES.get(str(raw.get("TYPE", "")).lower())
        if kind is None:
            raise ShaderError(spath, f"input '{name}' has an unknown TYPE {raw.get('TYPE')!r} "
                              f"(known: {', '.join(INPUT_GLSL_TYPES)})")
        if name in seen:
            rules.append(f"inputs: duplicate input '{name}' ignored")
            continue
        seen.add(name)
        lo, hi = raw.get("MIN"), raw.get("MAX")
        if kind in ("float", "long"):
            nlo, nhi = _number(lo), _number(hi)
            if nlo is not None and nhi is not None and nlo > nhi:
                rules.append(f"inputs: '{name}' has MIN > MAX (kept as written)")
        values = tuple(raw.get("VALUES") or ()) if kind == "long" else ()
        labels = tuple(raw.get("LABELS") or ()) if kind == "long" else ()
        if kind == "long" and (values or labels):
            nums = [_number(v) for v in values] if isinstance(raw.get("VALUES"), list) else [None]
            if not values or any(v is None for v in nums):
                rules.append(f"inputs: '{name}' VALUES are not a list of numbers (ignored)")
                values, labels = (), ()
            else:
                values = tuple(int(v) for v in nums)
                if not isinstance(raw.get("LABELS"), list) or len(labels) != len(values):
                    rules.append(f"inputs: '{name}' LABELS do not match VALUES (labels ignored)")
                    labels = ()
                labels = tuple(str(label) for label in labels)
        inputs.append(IsfInput(
            name=name, type=kind, label=str(raw.get("LABEL") or name),
            default=_default_for(kind, raw, spath, name),
            minimum=_number(lo) if kind in ("float", "long", "audio", "audioFFT")
            else _vector(lo, 4 if kind == "color" else 2, 0.0),
            maximum=_number(hi) if kind in ("float", "long", "audio", "audioFFT")
            else _vector(hi, 4 if kind == "color" else 2, 1.0),
            identity=raw.get("IDENTITY"), values=values, labels=labels,
        ))
    passes: list[IsfPass] = []
    raw_passes = header.get("PASSES", [])
    if not isinstance(raw_passes, list):
        raw_passes = []
    for raw in raw_passes:
        raw = _lower_keys(raw) if isinstance(raw, dict) else {}
        target = raw.get("TARGET", "")
        target = target if isinstance(target, str) and re.fullmatch(r"[A-Za-z_]\w*", target) else ""
        passes.append(IsfPass(
            target=target,
            persistent=bool(raw.get("PERSISTENT", False)) and raw.get("PERSISTENT") != "false",
            float_target=bool(raw.get("FLOAT", False)) and raw.get("FLOAT") != "false",
            width=str(raw.get("WIDTH", "")), height=str(raw.get("HEIGHT", "")),
        ))
    if not passes:
        passes.append(IsfPass())
    imported: list[IsfImport] = []
    raw_imp = header.get("IMPORTED", {})
    base = Path(spath).parent
    items = raw_imp.items() if isinstance(raw_imp, dict) else (
        ((d.get("NAME"), d) for d in raw_imp if isinstance(d, dict))
        if isinstance(raw_imp, list) else ())
    for key, spec in items:
        spec = _lower_keys(spec) if isinstance(spec, dict) else {}
        name = spec.get("NAME", key)
        if isinstance(name, str) and isinstance(spec.get("PATH"), str):
            imported.append(IsfImport(name, base / spec["PATH"]))
    return IsfDocument(path=Path(spath), source=text, header=header, inputs=inputs, passes=passes,
                       imported=imported, vertex_source=vertex_text, rules=rules)


def load_isf(path: str | Path) -> IsfDocument:
    """Read and parse an ISF file and its ``.vs`` (same base name) if present.

    Raises
    ------
    ShaderError
        The file cannot be read or parsed.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ShaderError(str(p), f"cannot read the file: {exc.strerror or exc}") from None
    vs = p.with_suffix(".vs")
    vtext = None
    if vs.is_file():
        try:
            vtext = vs.read_text(encoding="utf-8", errors="replace")
        except OSError:
            vtext = None
    return parse_isf(text, p, vtext)


# -- size expressions ---------------------------------------------------------------------------

_EXPR_FUNCS = {
    "floor": math.floor, "ceil": math.ceil, "round": round, "abs": abs, "sqrt": math.sqrt,
    "min": min, "max": max, "pow": pow, "log": math.log, "exp": math.exp,
}


def eval_size_expr(expr: str, variables: dict[str, float]) -> float:
    """Evaluate a PASSES ``WIDTH``/``HEIGHT`` expression such as ``floor($WIDTH/4.0)``.

    Only numbers, ``$names``, + - * / % **, parentheses and a few math functions are allowed:
    the text comes from a shader file and is never handed to ``eval``.

    Raises
    ------
    ValueError
        Anything else, or an unknown ``$name``.
    """
    text = re.sub(r"\$(\w+)", r"__v_\1", str(expr)).replace("^", "**")
    tree = ast.parse(text.strip() or "0", mode="eval")

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id.startswith("__v_"):
            key = node.id[4:]
            if key not in variables:
                raise ValueError(f"unknown variable ${key}")
            return float(variables[key])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
                   ast.Div: lambda: a / b if b else 0.0, ast.Mod: lambda: a % b if b else 0.0,
                   ast.Pow: lambda: a ** b if abs(b) <= 16 else 0.0}
            for op, fn in ops.items():
                if isinstance(node.op, op):
                    return float(fn())
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _EXPR_FUNCS and not node.keywords):
            return float(_EXPR_FUNCS[node.func.id](*(ev(a) for a in node.args)))
        raise ValueError(f"unsupported expression {expr!r}")

    return ev(tree)


def target_size(pss: IsfPass, render_size: tuple[int, int], values: dict[str, Any]
                ) -> tuple[int, int]:
    """The pixel size of a pass's target for the given render size and input values.

    A missing or unreadable WIDTH/HEIGHT means the render size, as in VVISF.
    """
    variables = {"WIDTH": render_size[0], "HEIGHT": render_size[1]}
    for k, v in values.items():
        n = _number(v) if not isinstance(v, (tuple, list)) else None
        if n is not None:
            variables[k] = n
    out = []
    for expr, full in ((pss.width, render_size[0]), (pss.height, render_size[1])):
        if not expr.strip():
            out.append(full)
            continue
        try:
            v = eval_size_expr(expr, variables)
        except (ValueError, SyntaxError, ArithmeticError, TypeError, RecursionError,
                MemoryError):  # e.g. pow($zoom, -1.0) with zoom = 0, or absurd nesting
            v = full
        v = full if not math.isfinite(v) else v
        out.append(int(min(max(round(v), 1), MAX_TARGET_SIDE)))
    return out[0], out[1]


# -- GLSL translation ---------------------------------------------------------------------------

_VERSION_RE = re.compile(r"^[ \t]*#[ \t]*version\b.*$", re.M)
_PRECISION_DEFAULT_RE = re.compile(r"^[ \t]*precision\s+\w+\s+\w+\s*;", re.M)

_IMG_MACROS = """\
#define IMG_NORM_PIXEL(img, coord) texture(img, coord)
#define IMG_PIXEL(img, coord) texture(img, (coord) / vec2(textureSize(img, 0)))
#define IMG_THIS_NORM_PIXEL(img) texture(img, isf_FragNormCoord)
#define IMG_THIS_PIXEL(img) texture(img, isf_FragNormCoord)
#define IMG_SIZE(img) vec2(textureSize(img, 0))
#define IMG_NORM_PIXEL_2D(img, size, coord) texture(img, coord)
#define IMG_PIXEL_2D(img, size, coord) texture(img, (coord) / (size))
#define IMG_THIS_NORM_PIXEL_2D(img) texture(img, isf_FragNormCoord)
#define IMG_THIS_PIXEL_2D(img) texture(img, isf_FragNormCoord)
"""

_BUILTINS = """\
uniform int PASSINDEX;
uniform vec2 RENDERSIZE;
uniform float TIME;
uniform float TIMEDELTA;
uniform vec4 DATE;
uniform int FRAMEINDEX;
"""

#: GLSL 1.x names → GLSL 3.30 core. Applied to whole identifiers only.
_FRAGMENT_RENAMES = (
    ("gl_FragColor", "isf_FragColor", "gl_FragColor → out vec4"),
    ("texture2D", "texture", "texture2D → texture"),
    ("texture2DProj", "textureProj", "texture2DProj → textureProj"),
    ("texture2DLod", "textureLod", "texture2DLod → textureLod"),
    ("texture2DRect", "texture", "texture2DRect → texture"),
    ("varying", "in", "varying → in"),
    ("vv_FragNormCoord", "isf_FragNormCoord", "v1 name vv_FragNormCoord"),
)
_VERTEX_RENAMES = (
    ("varying", "out", "varying → out"),
    ("attribute", "in", "attribute → in"),
    ("texture2D", "texture", "texture2D → texture"),
    ("vv_vertShaderInit", "isf_vertShaderInit", "v1 name vv_vertShaderInit"),
    ("vv_FragNormCoord", "isf_FragNormCoord", "v1 name vv_FragNormCoord"),
)


def rename_identifiers(code: str, renames: tuple, rules: list[str]) -> str:
    """Replace whole identifiers ``(old, new, rule)``; note each rule that fired in ``rules``."""
    for old, new, rule in renames:
        pattern = re.compile(rf"\b{old}\b")
        if pattern.search(code):
            code = pattern.sub(new, code)
            if rule not in rules:
                rules.append(rule)
    return code


def strip_version(code: str, rules: list[str]) -> str:
    """Blank any ``#version`` line (the host writes its own); the line count stays."""
    if _VERSION_RE.search(code):
        rules.append("#version line replaced by the host's")
        code = _VERSION_RE.sub("", code)  # the line stays (empty), so numbering holds
    return code


def _declarations(doc: IsfDocument) -> str:
    lines = [_BUILTINS]
    for inp in doc.inputs:
        lines.append(f"uniform {inp.glsl_type} {inp.name};")
        if inp.type in IMAGE_TYPES:
            lines.append(f"uniform vec4 _{inp.name}_imgRect;")
            lines.append(f"uniform vec2 _{inp.name}_imgSize;")
            lines.append(f"uniform bool _{inp.name}_flip;")
    declared = {i.name for i in doc.inputs}
    for name in [p.target for p in doc.passes if p.target] + [i.name for i in doc.imported]:
        if name in declared:
            continue
        declared.add(name)
        lines.append(f"uniform sampler2D {name};")
        lines.append(f"uniform vec4 _{name}_imgRect;")
        lines.append(f"uniform vec2 _{name}_imgSize;")
        lines.append(f"uniform bool _{name}_flip;")
    lines.append(audio_uniform_declarations(exclude=declared))
    return "\n".join(lines)


def build_sources(doc: IsfDocument) -> tuple[str, str, list[str]]:
    """Build the GLSL 3.30 vertex and fragment sources for an ISF document.

    Returns
    -------
    vertex, fragment : str
        Sources for ``ctx.program``; the user's code follows a ``#line 1`` so compiler messages
        carry its own line numbers.
    rules : list of str
        The compatibility rules that fired (also appended to ``doc.rules``).
    """
    rules = list(doc.rules)
    decl = _declarations(doc)
    frag = strip_version(doc.source, rules)
    frag = rename_identifiers(frag, _FRAGMENT_RENAMES, rules)
    if _PRECISION_DEFAULT_RE.search(frag):
        rules.append("precision qualifiers kept (no effect on desktop GL)")
    fragment = (
        "#version 330\n"
        "out vec4 isf_FragColor;\n"
        "in vec2 isf_FragNormCoord;\n"
        f"{decl}\n{_IMG_MACROS}"
        "#line 1\n"
        f"{frag}\n"
    )
    if doc.vertex_source is not None:
        rules.append("custom vertex shader (.vs)")
        vcode = strip_version(doc.vertex_source, rules)
        vcode = rename_identifiers(vcode, _VERTEX_RENAMES, rules)
    else:
        vcode = "void main() {\n    isf_vertShaderInit();\n}\n"
    vertex = (
        "#version 330\n"
        "in vec2 isf_position;\n"
        "out vec2 isf_FragNormCoord;\n"
        f"{decl}\n"
        "void isf_vertShaderInit(void) {\n"
        "    gl_Position = vec4(isf_position, 0.0, 1.0);\n"
        "    isf_FragNormCoord = isf_position * 0.5 + 0.5;\n"
        "}\n"
        "#line 1\n"
        f"{vcode}\n"
    )
    doc.rules[:] = rules
    return vertex, fragment, rules
