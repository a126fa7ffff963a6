"""Decimal128 in BID form (and format 24's BID64 / BID32 leaves) to decimal.Decimal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from studio.realmfile.bid import decode_bid32, decode_bid64, decode_bid128


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (0, 0x3040000000000000, "0"),
        (1, 0x3040000000000000, "1"),
        (15, 0xB03E000000000000, "-1.5"),
        (1, 0x303E000000000000, "0.1"),  # vectors of the BSON decimal128 corpus
        (0x378D8E63FFFFFFFF, 0x5FFFED09BEAD87C0, "9.999999999999999999999999999999999E+6144"),
        (1, 0x5FFE000000000000, "1E+6111"),  # largest exponent
        (1, 0x0000000000000000, "1E-6176"),  # smallest exponent
        (0x378D8E63FFFFFFFF, 0x3041ED09BEAD87C0, "9999999999999999999999999999999999"),
        (0, 0, "0E-6176"),
        (0, 0x7800000000000000, "Infinity"),
        (0, 0xF800000000000000, "-Infinity"),
    ],
)
def test_bid128(lo: int, hi: int, expected: str) -> None:
    assert decode_bid128(lo, hi) == Decimal(expected)
    assert str(decode_bid128(lo, hi)) == str(Decimal(expected))


def test_bid128_null_nan_and_non_canonical() -> None:
    assert decode_bid128(0xAA, 0x7C00000000000000) is None  # Realm's null
    nan = decode_bid128(0, 0x7C00000000000000)
    assert nan is not None and nan.is_nan()
    assert decode_bid128(0, 0x6000000000000000 | (6176 << 47)) == Decimal(0)  # > 34 digits
    assert decode_bid128(-1, -1 & 0x3041FFFFFFFFFFFF) == Decimal(0)  # coefficient >= 10**34
    assert decode_bid128(-5, 0x3040000000000000) == Decimal(2**64 - 5)  # words read signed


@pytest.mark.parametrize(
    ("bits", "expected"),
    [
        (0x31C0000000000001, "1"),
        (0xB160000000000019, "-0.025"),
        (0x6C7386F26FC0FFFF, "9999999999999999"),  # large-coefficient form
        (0x7800000000000000, "Infinity"),
    ],
)
def test_bid64(bits: int, expected: str) -> None:
    assert decode_bid64(bits) == Decimal(expected)


@pytest.mark.parametrize(
    ("bits", "expected"),
    [
        (0x32800001, "1"),
        (0xB200000F, "-1.5"),
        (0x6CB8967F, "9999999"),  # large-coefficient form
        (0x32800000, "0"),
        (0xF8000000, "-Infinity"),
    ],
)
def test_bid32(bits: int, expected: str) -> None:
    assert decode_bid32(bits) == Decimal(expected)


def test_narrow_nan_is_null() -> None:
    # Realm narrows only finite values, so a NaN in a 4- or 8-byte leaf is a null.
    assert decode_bid32(0x7C000000) is None
    assert decode_bid64(0x7C000000000000AA) is None
