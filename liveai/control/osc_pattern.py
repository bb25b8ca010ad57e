"""OSC 1.0 address patterns (``*``, ``?``, ``[a-z]``, ``[!abc]``, ``{foo,bar}``), matched safely.

Patterns are matched part by part (``*`` never crosses a ``/``) with a set of reachable
positions, not a backtracking regular expression: a hostile pattern such as ``/*a*a*a*a*b`` costs
at most (pattern length × part length) steps, never exponential time.
"""

from __future__ import annotations

from collections.abc import Iterable

from liveai.errors import LiveAIError

#: Longest pattern considered; longer ones are refused.
MAX_PATTERN_CHARS = 512
SPECIAL = frozenset("*?[]{}")

# Token kinds of one compiled part.
_LIT, _ONE, _STAR, _SET, _ALT = range(5)


class PatternError(LiveAIError):
    """An OSC address pattern is malformed (unclosed bracket, too long, not starting at /)."""


def is_pattern(address: str) -> bool:
    """True when ``address`` holds any OSC pattern character."""
    return not SPECIAL.isdisjoint(address)


def _compile_part(part: str) -> tuple[tuple, ...]:
    tokens: list[tuple] = []
    i, n = 0, len(part)
    while i < n:
        c = part[i]
        if c == "*":
            if not tokens or tokens[-1][0] != _STAR:  # ** is *
                tokens.append((_STAR,))
            i += 1
        elif c == "?":
            tokens.append((_ONE,))
            i += 1
        elif c == "[":
            end = part.find("]", i + 1)
            if end < 0:
                raise PatternError(f"unclosed '[' in {part!r}")
            body = part[i + 1 : end]
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            ranges: list[tuple[str, str]] = []
            j = 0
            while j < len(body):
                if j + 2 < len(body) and body[j + 1] == "-":
                    ranges.append((body[j], body[j + 2]))
                    j += 3
                else:
                    ranges.append((body[j], body[j]))
                    j += 1
            tokens.append((_SET, negate, tuple(ranges)))
            i = end + 1
        elif c == "{":
            end = part.find("}", i + 1)
            if end < 0:
                raise PatternError(f"unclosed '{{' in {part!r}")
            tokens.append((_ALT, tuple(part[i + 1 : end].split(","))))
            i = end + 1
        elif c in "]}":
            raise PatternError(f"unmatched {c!r} in {part!r}")
        else:
            j = i
            while j < n and part[j] not in SPECIAL:
                j += 1
            tokens.append((_LIT, part[i:j]))
            i = j
    return tuple(tokens)


def compile_pattern(pattern: str) -> tuple[tuple[tuple, ...], ...]:
    """Compile an address pattern into one token tuple per part.

    Raises
    ------
    PatternError
        For a pattern that does not start with ``/``, is too long, or has unclosed brackets.
    """
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"pattern longer than {MAX_PATTERN_CHARS} characters")
    if not pattern.startswith("/"):
        raise PatternError(f"{pattern[:40]!r} does not start with '/'")
    return tuple(_compile_part(p) for p in pattern[1:].split("/"))


def _match_part(tokens: tuple[tuple, ...], text: str) -> bool:
    reach = {0}
    n = len(text)
    for tok in tokens:
        kind = tok[0]
        nxt: set[int] = set()
        if kind == _STAR:
            nxt = set(range(min(reach), n + 1))
        elif kind == _LIT:
            lit = tok[1]
            nxt = {p + len(lit) for p in reach if text.startswith(lit, p)}
        elif kind == _ONE:
            nxt = {p + 1 for p in reach if p < n}
        elif kind == _SET:
            negate, ranges = tok[1], tok[2]
            for p in reach:
                if p < n:
                    c = text[p]
                    hit = any(lo <= c <= hi for lo, hi in ranges)
                    if hit != negate:
                        nxt.add(p + 1)
        else:  # _ALT
            for p in reach:
                for alt in tok[1]:
                    if text.startswith(alt, p):
                        nxt.add(p + len(alt))
        if not nxt:
            return False
        reach = nxt
    return n in reach


def match(compiled: tuple[tuple[tuple, ...], ...], address: str) -> bool:
    """True when ``address`` (a plain address) matches the compiled pattern."""
    parts = address[1:].split("/")
    if len(parts) != len(compiled):
        return False
    return all(_match_part(t, p) for t, p in zip(compiled, parts, strict=True))


def expand(pattern: str, addresses: Iterable[str]) -> list[str]:
    """Every address of ``addresses`` that ``pattern`` matches, in their order.

    Raises
    ------
    PatternError
        For a malformed pattern.
    """
    compiled = compile_pattern(pattern)
    return [a for a in addresses if match(compiled, a)]
