"""Binary Integer Decimal (IEEE 754-2008 BID) to :class:`decimal.Decimal`.

Realm stores Decimal128 values as BID128; file format 24 narrows a leaf to BID64
or BID32 when every value in it fits. A decimal value is ``(-1)**sign *
coefficient * 10**(exponent - bias)``; the Decimal is built from its digit tuple
so that no context precision or rounding is involved.

Realm's null is the quiet NaN whose payload is 0xAA. The narrow encodings can
never hold a genuine NaN (Realm only narrows finite values), so a NaN in them
is a null too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

_NAN: Final = Decimal("NaN")
_INF: Final = Decimal("Infinity")
_NEG_INF: Final = Decimal("-Infinity")
_NULL_HI: Final = 0x7C00000000000000
_NULL_LO: Final = 0xAA


def _finite(sign: int, coefficient: int, exponent: int) -> Decimal:
    digits = tuple(int(c) for c in str(coefficient))
    return Decimal((sign, digits, exponent))


def decode_bid128(lo: int, hi: int) -> Decimal | None:
    """``lo``/``hi`` are the two little-endian 64-bit words, as unsigned or signed ints."""
    lo &= 0xFFFFFFFFFFFFFFFF
    hi &= 0xFFFFFFFFFFFFFFFF
    sign = hi >> 63
    combination = (hi >> 58) & 0x1F
    if combination == 0x1F:
        if hi == _NULL_HI and lo == _NULL_LO:
            return None
        return _NAN
    if combination == 0x1E:
        return _NEG_INF if sign else _INF
    if (hi >> 61) & 3 == 3:
        # The "large coefficient" form would exceed 34 digits: non-canonical, i.e. zero.
        exponent = (hi >> 47) & 0x3FFF
        coefficient = 0
    else:
        exponent = (hi >> 49) & 0x3FFF
        coefficient = ((hi & 0x1FFFFFFFFFFFF) << 64) | lo
        if coefficient >= 10**34:
            coefficient = 0
    return _finite(sign, coefficient, exponent - 6176)


def decode_bid64(x: int) -> Decimal | None:
    x &= 0xFFFFFFFFFFFFFFFF
    sign = x >> 63
    combination = (x >> 58) & 0x1F
    if combination == 0x1F:
        return None
    if combination == 0x1E:
        return _NEG_INF if sign else _INF
    if (x >> 61) & 3 == 3:
        exponent = (x >> 51) & 0x3FF
        coefficient = (x & 0x7FFFFFFFFFFFF) | 0x20000000000000
    else:
        exponent = (x >> 53) & 0x3FF
        coefficient = x & 0x1FFFFFFFFFFFFF
    if coefficient >= 10**16:
        coefficient = 0
    return _finite(sign, coefficient, exponent - 398)


def decode_bid32(x: int) -> Decimal | None:
    x &= 0xFFFFFFFF
    sign = x >> 31
    combination = (x >> 26) & 0x1F
    if combination == 0x1F:
        return None
    if combination == 0x1E:
        return _NEG_INF if sign else _INF
    if (x >> 29) & 3 == 3:
        exponent = (x >> 21) & 0xFF
        coefficient = (x & 0x1FFFFF) | 0x800000
    else:
        exponent = (x >> 23) & 0xFF
        coefficient = x & 0x7FFFFF
    if coefficient >= 10**7:
        coefficient = 0
    return _finite(sign, coefficient, exponent - 101)
