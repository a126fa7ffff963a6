"""How each property type's Python values are checked and stored in SQLite.

Storage encodings (documented in docs/storage-layout.md):
bool INTEGER 0/1; int INTEGER; float and double REAL; string TEXT; data BLOB;
date INTEGER microseconds since the Unix epoch (UTC); objectId BLOB of 12 bytes;
uuid BLOB of 16 bytes; decimal128 TEXT compared with the DECIMAL collation.
A mixed value takes two columns: the value in its own type's encoding and a type
tag (:class:`MixedTag`).

The functions here are the per-type pieces; :mod:`studio.core.property_types`
puts each type's pieces together.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from typing import Any

from studio.core.errors import ValueTypeError
from studio.primitives.objectid import ObjectId

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MixedTag(IntEnum):
    """The type tag stored beside a mixed value."""

    NULL = 0
    BOOL = 1
    INT = 2
    FLOAT = 3
    STRING = 4
    DATA = 5
    DATE = 6
    OBJECT_ID = 7
    UUID = 8
    DECIMAL = 9
    LINK = 10  # value is TEXT "<class name>\x1f<object key>"


def date_to_storage(value: datetime) -> int:
    if value.tzinfo is None:
        # Realm dates are instants; a naive datetime is taken as UTC, as Realm JS does with Date.
        value = value.replace(tzinfo=UTC)
    delta = value - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def date_from_storage(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def decimal_to_storage(value: Decimal) -> str:
    return str(value)


def compare_decimal_text(a: str, b: str) -> int:
    """The DECIMAL collation: numeric order of decimal strings (NaN sorts first)."""
    try:
        x, y = Decimal(a), Decimal(b)
    except InvalidOperation:
        return (a > b) - (a < b)
    if x.is_nan() or y.is_nan():
        return (not y.is_nan()) * -1 + (not x.is_nan()) * 1 if x.is_nan() != y.is_nan() else 0
    return (x > y) - (x < y)


def sql_literal(stored: Any) -> str:
    """A stored value (the result of an encoder) as an SQL literal, for column defaults."""
    if isinstance(stored, bytes):
        return f"X'{stored.hex().upper()}'"
    if isinstance(stored, str):
        return "'" + stored.replace("'", "''") + "'"
    if isinstance(stored, float):
        return repr(stored)
    if isinstance(stored, int):
        return str(stored)
    raise TypeError(f"no SQL literal for a stored {type(stored).__name__}")


# -- encoders: check a Python value and return its storage form ------------------------------


def _fail(type_name: str, value: Any) -> ValueTypeError:
    return ValueTypeError(
        f"expected a value of type {type_name}, got {type(value).__name__} {value!r:.60}"
    )


def encode_bool(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    raise _fail("bool", value)


def encode_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if -(2**63) <= value < 2**63:
            return value
        raise ValueTypeError(f"int value {value} does not fit in 64 bits")
    raise _fail("int", value)


def encode_float(value: Any) -> float | str:
    if isinstance(value, float):
        # SQLite turns a NaN REAL into NULL; NaN is stored as the TEXT 'NaN' instead.
        return value if value == value else "NaN"
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    raise _fail("float", value)


def encode_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _fail("string", value)


def encode_data(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise _fail("data", value)


def encode_date(value: Any) -> int:
    if isinstance(value, datetime):
        return date_to_storage(value)
    raise _fail("date", value)


def encode_object_id(value: Any) -> bytes:
    if isinstance(value, ObjectId):
        return value.binary
    raise _fail("objectId", value)


def encode_uuid(value: Any) -> bytes:
    if isinstance(value, uuid.UUID):
        return value.bytes
    raise _fail("uuid", value)


def encode_decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return decimal_to_storage(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _fail("decimal128", value)


# -- decoders: storage form back to the Python value (None where they are the same) ---------


def decode_bool(v: int) -> bool:
    return bool(v)


def decode_float(v: float | str) -> float:
    return float(v)  # the TEXT 'NaN' (see encode_float); REAL values come back as they are


def decode_object_id(v: bytes) -> ObjectId:
    return ObjectId(v)


def decode_uuid(v: bytes) -> uuid.UUID:
    return uuid.UUID(bytes=v)
