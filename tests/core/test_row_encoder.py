"""The compiled row encoder gives exactly what each type's encoder gives, value by
value, and the same errors (row_encoder.py's inline cases must never disagree)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from studio.core.errors import MissingValueError, ValueTypeError
from studio.core.row_encoder import INLINE_CASES, build_row_encoder
from studio.core.values import ENCODERS
from studio.primitives.objectid import ObjectId


class IntSubclass(int):
    pass


class StrSubclass(str):
    __slots__ = ()


SAMPLES: list[Any] = [
    0, 1, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, IntSubclass(3),
    True, False,
    0.0, -0.0, 1.5, math.inf, -math.inf, math.nan,
    "", "x", StrSubclass("s"),
    b"", b"\x00", bytearray(b"ab"), memoryview(b"cd"),
    datetime(2020, 1, 2, tzinfo=UTC), datetime(2020, 1, 2),
    ObjectId(b"0123456789ab"), uuid.UUID(int=5), Decimal("1.5"), Decimal("-0"),
    [], {}, object(),
]  # fmt: skip


def _outcome(fn: Any, value: Any) -> tuple[str, Any]:
    try:
        stored = fn(value)
    except ValueTypeError as exc:
        return "error", str(exc)
    if isinstance(stored, float) and math.isnan(stored):
        return "nan", None
    return type(stored).__name__, stored


@pytest.mark.parametrize("type_name", sorted(ENCODERS))
@pytest.mark.parametrize("optional", [False, True])
def test_every_value_encodes_as_the_type_encoder_does(type_name: str, optional: bool) -> None:
    encode_row = build_row_encoder("C", [("p", type_name, optional)])
    encode = ENCODERS[type_name]

    def missing(class_name: str, name: str, given_none: bool) -> Any:
        raise AssertionError("not reached for non-None values")

    for value in SAMPLES:
        via_row = _outcome(lambda v: encode_row({"p": v}, missing)[0], value)
        direct = _outcome(encode, value)
        if direct[0] == "error":
            direct = ("error", f"property p: {direct[1]}")
        assert via_row == direct, (type_name, value)
        # -0.0 and 0.0 compare equal: the sign must survive too
        if isinstance(value, float) and direct[0] == "float":
            assert math.copysign(1, via_row[1]) == math.copysign(1, direct[1])


def test_none_and_missing_values() -> None:
    calls: list[tuple[str, str, bool]] = []

    def missing(class_name: str, name: str, given_none: bool) -> Any:
        calls.append((class_name, name, given_none))
        if given_none:
            raise ValueTypeError("none given")
        raise MissingValueError("nothing given")

    encode_row = build_row_encoder("C d", [("a b", "int", False), ('"q"', "string", True)])
    assert encode_row({"a b": 1}, missing) == [1, None]
    assert encode_row({"a b": 1, '"q"': None}, missing) == [1, None]
    with pytest.raises(ValueTypeError, match="none given"):
        encode_row({"a b": None}, missing)
    with pytest.raises(MissingValueError):
        encode_row({}, missing)
    assert calls == [("C d", "a b", True), ("C d", "a b", False)]
    assert encode_row({"a b": 2}, lambda c, n, g: 0) == [2, None]


def test_the_first_bad_column_is_reported() -> None:
    encode_row = build_row_encoder("C", [("a", "int", False), ("b", "string", False)])
    with pytest.raises(ValueTypeError, match=r"^property a: "):
        encode_row({"a": "x", "b": 1}, lambda c, n, g: None)


def test_inline_cases_cover_only_known_types() -> None:
    assert set(INLINE_CASES) <= set(ENCODERS)
