"""Logarithms that vectorise inside numba kernels.

numba calls the C library's ``log`` once per value (about 7 ns here), and a call keeps the loop
around it scalar. These are fdlibm's ``log`` (the algorithm most C libraries descend from:
the exponent from the bits, a degree-14 polynomial in ``s = f / (2 + f)``, error below one ulp)
written in plain arithmetic on the bits, so LLVM inlines and vectorises the loops that call them.
They differ from ``np.log`` by float rounding only (at most one ulp; tested). One at a time
(in a loop that cannot vectorise) they are slower than the C library's: use them in loops that
vectorise.

Only positive, finite, normal arguments are meant: callers clamp (``max(x, TINY)``).
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

#: The smallest argument callers should pass (a normal float64; 10 log10(TINY) = -3000 dB).
TINY = 1e-300

_LN2_HI = 6.93147180369123816490e-01  # ln 2, high bits (its product with k is exact)
_LN2_LO = 1.90821492927058770002e-10  # ln 2 - _LN2_HI
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_INV_LN10 = 0.43429448190325182765  # 1 / ln 10
_EXP_MASK = 0x7FF0000000000000
_MANT_MASK = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000
_SQRT2_OFFSET = 0x00095F6400000000  # carries the mantissa of values >= sqrt(2) into bit 52
_BIT52 = 0x0010000000000000


@intrinsic
def _bits(typingctx, x):  # pragma: no cover - compiled
    """The bits of a float64 as an int64 (a register move, no memory)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, b):  # pragma: no cover - compiled
    """The float64 whose bits are the int64 ``b``."""
    if b != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@njit(cache=True, nogil=True, error_model="numpy")
def log(x):  # pragma: no cover - compiled
    """Natural logarithm of a positive, finite, normal float64 (fdlibm ``__ieee754_log``)."""
    hx = _bits(x)
    k = ((hx & _EXP_MASK) >> 52) - 1023
    m = hx & _MANT_MASK
    # Normalise the mantissa into [sqrt(2)/2, sqrt(2)): values above sqrt(2) count as the
    # next power of two, halved.
    i = (m + _SQRT2_OFFSET) & _BIT52
    k += i >> 52
    f = _from_bits(m | (i ^ _ONE_BITS)) - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    dk = float(k)
    return dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)


@njit(cache=True, nogil=True, error_model="numpy")
def log1p(x):  # pragma: no cover - compiled
    """``log(1 + x)`` for ``x >= 0``, accurate for small ``x`` too.

    ``u = 1 + x`` rounds; ``(x - (u - 1)) / u`` is the first-order correction for what the
    rounding lost (exactly ``x`` when ``u`` rounds to 1).
    """
    u = 1.0 + x
    return log(u) + (x - (u - 1.0)) / u


@njit(cache=True, nogil=True, error_model="numpy")
def log10(x):  # pragma: no cover - compiled
    """Base-10 logarithm of a positive, finite, normal float64."""
    return log(x) * _INV_LN10


@njit(cache=True, nogil=True)
def log_array(x, out):  # pragma: no cover - compiled
    """``out[i] = log(x[i])`` (for tests and warm-up)."""
    for i in range(x.shape[0]):
        out[i] = log(x[i])


@njit(cache=True, nogil=True)
def log1p_array(x, out):  # pragma: no cover - compiled
    """``out[i] = log1p(x[i])`` (for tests and warm-up)."""
    for i in range(x.shape[0]):
        out[i] = log1p(x[i])
