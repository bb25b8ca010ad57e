"""One object for a kernel's many arguments, so that calling it from Python stays cheap.

numba checks the type of every argument on every call from Python: about 80 ns per array.
The analysis hands its one compiled call per hop some 90 arrays (state, settings, outputs of
every analyser), which made the call itself cost 7 µs, a fifth of the hop. :class:`KernelArgs`
wraps them in a numba structure (a StructRef holding one tuple) that crosses into compiled
code as one pointer: its type is known from the object, and nothing is copied (the arrays are
the same memory). Inside a kernel, ``bundle.args`` is the tuple: ``kernel(*bundle.args)``.

Build one when the arguments are gathered (they must be updated in place afterwards, never
replaced: the bundle holds the arrays it was built with), not per call.
"""

from __future__ import annotations

from numba import njit, types
from numba.core.extending import overload
from numba.experimental import structref


@structref.register
class KernelArgsType(types.StructRef):
    """The numba type of a :class:`KernelArgs`: one field, ``args``, a tuple."""

    def preprocess_fields(self, fields):
        """Literal types (a constant the tuple happened to hold) as their plain types."""
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class KernelArgs(structref.StructRefProxy):
    """A tuple of kernel arguments as one object (see the module's text).

    Parameters
    ----------
    args : tuple
        Arrays, numbers and tuples of them, as a kernel takes them.
    """

    def __new__(cls, args: tuple) -> KernelArgs:
        """Wrap ``args`` (compiled once per tuple type, then loaded from numba's cache)."""
        return _make(args)

    @property
    def args(self) -> tuple:
        """The tuple (as numba boxes it: the arrays are the same memory)."""
        return _args(self)


structref.define_boxing(KernelArgsType, KernelArgs)


def _new(args):  # pragma: no cover - replaced in compiled code by the overload below
    raise NotImplementedError


@overload(_new)
def _new_impl(args):
    bundle_type = KernelArgsType([("args", args)])

    def impl(args):  # pragma: no cover - compiled
        bundle = structref.new(bundle_type)
        bundle.args = args
        return bundle
    return impl


@njit(cache=True)
def _make(args):  # pragma: no cover - compiled
    return _new(args)


@njit(cache=True)
def _args(bundle):  # pragma: no cover - compiled
    return bundle.args
