"""How each property type's Python values are checked and stored in SQLite.

Storage encodings (documented in docs/storage-layout.md):
bool INTEGER 0/1; int INTEGER; float and double REAL; string TEXT; data BLOB;
date INTEGER microseconds since the Unix epoch (UTC); objectId BLOB of 12 bytes;
uuid BLOB of 16 bytes; decimal128 TEXT compared with the DECIMAL collation.
A mixed value takes two columns: the value in its own type's encoding and a type
tag (:class:`MixedTag`).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
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


MIXED_TAG_TYPE_NAMES: dict[int, str] = {
    MixedTag.NULL: "null",
    MixedTag.BOOL: "bool",
    MixedTag.INT: "int",
    MixedTag.FLOAT: "double",
    MixedTag.STRING: "string",
    MixedTag.DATA: "data",
    MixedTag.DATE: "date",
    MixedTag.OBJECT_ID: "objectId",
    MixedTag.UUID: "uuid",
    MixedTag.DECIMAL: "decimal128",
    MixedTag.LINK: "object",
}


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


def _fail(type_name: str, value: Any) -> ValueTypeError:
    return ValueTypeError(
        f"expected a value of type {type_name}, got {type(value).__name__} {value!r:.60}"
    )


def _bool(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    raise _fail("bool", value)


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if -(2**63) <= value < 2**63:
            return value
        raise ValueTypeError(f"int value {value} does not fit in 64 bits")
    raise _fail("int", value)


def _float(value: Any) -> float | str:
    if isinstance(value, float):
        # SQLite turns a NaN REAL into NULL; NaN is stored as the TEXT 'NaN' instead.
        return value if value == value else "NaN"
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    raise _fail("float", value)


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _fail("string", value)


def _data(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise _fail("data", value)


def _date(value: Any) -> int:
    if isinstance(value, datetime):
        return date_to_storage(value)
    raise _fail("date", value)


def _object_id(value: Any) -> bytes:
    if isinstance(value, ObjectId):
        return value.binary
    raise _fail("objectId", value)


def _uuid(value: Any) -> bytes:
    if isinstance(value, uuid.UUID):
        return value.bytes
    raise _fail("uuid", value)


def _decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return decimal_to_storage(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _fail("decimal128", value)


ENCODERS: dict[str, Callable[[Any], Any]] = {
    "bool": _bool,
    "int": _int,
    "float": _float,
    "double": _float,
    "string": _string,
    "data": _data,
    "date": _date,
    "objectId": _object_id,
    "uuid": _uuid,
    "decimal128": _decimal,
}


def _to_bool(v: int) -> bool:
    return bool(v)


def _to_object_id(v: bytes) -> ObjectId:
    return ObjectId(v)


def _to_uuid(v: bytes) -> uuid.UUID:
    return uuid.UUID(bytes=v)


def _to_float(v: float | str) -> float:
    return float(v)  # the TEXT 'NaN' (see _float); REAL values come back as they are


DECODERS: dict[str, Callable[[Any], Any] | None] = {
    "bool": _to_bool,
    "int": None,
    "float": _to_float,
    "double": _to_float,
    "string": None,
    "data": None,
    "date": date_from_storage,
    "objectId": _to_object_id,
    "uuid": _to_uuid,
    "decimal128": Decimal,
}

SQL_TYPES: dict[str, str] = {
    "bool": "INTEGER",
    "int": "INTEGER",
    "float": "REAL",
    "double": "REAL",
    "string": "TEXT",
    "data": "BLOB",
    "date": "INTEGER",
    "objectId": "BLOB",
    "uuid": "BLOB",
    "decimal128": "TEXT COLLATE DECIMAL",
    "object": "INTEGER",
    "mixed": "",
}


DEFAULT_VALUES: dict[str, Any] = {
    "bool": False,
    "int": 0,
    "float": 0.0,
    "double": 0.0,
    "string": "",
    "data": b"",
    "date": EPOCH,
    "objectId": ObjectId(b"\x00" * 12),
    "uuid": uuid.UUID(int=0),
    "decimal128": Decimal(0),
}
"""What a required property holds when sync creates an object before setting its values."""


def make_encoder(type_name: str, optional: bool) -> Callable[[Any], Any]:
    """A function that checks a Python value for a primitive type and returns its storage form."""
    encode = ENCODERS[type_name]
    if not optional:
        def required(value: Any) -> Any:
            if value is None:
                raise ValueTypeError(f"a value of type {type_name} is required, got None")
            return encode(value)
        return required

    def nullable(value: Any) -> Any:
        return None if value is None else encode(value)
    return nullable


def make_decoder(type_name: str) -> Callable[[Any], Any] | None:
    """A function from storage form to Python value, or None where they are the same."""
    decode = DECODERS[type_name]
    if decode is None:
        return None

    def nullable(value: Any) -> Any:
        return None if value is None else decode(value)
    return nullable


def mixed_tag_of(value: Any) -> MixedTag:
    """The tag of a primitive value in a mixed property (the caller handles links)."""
    if value is None:
        return MixedTag.NULL
    if isinstance(value, bool):
        return MixedTag.BOOL
    if isinstance(value, int):
        return MixedTag.INT
    if isinstance(value, float):
        return MixedTag.FLOAT
    if isinstance(value, str):
        return MixedTag.STRING
    if isinstance(value, bytes | bytearray | memoryview):
        return MixedTag.DATA
    if isinstance(value, datetime):
        return MixedTag.DATE
    if isinstance(value, ObjectId):
        return MixedTag.OBJECT_ID
    if isinstance(value, uuid.UUID):
        return MixedTag.UUID
    if isinstance(value, Decimal):
        return MixedTag.DECIMAL
    raise ValueTypeError(
        f"a mixed value must be null, bool, int, float, str, bytes, datetime, ObjectId, "
        f"UUID, Decimal or an object; got {type(value).__name__}"
    )


_TAG_ENCODERS: dict[int, Callable[[Any], Any]] = {
    MixedTag.BOOL: _bool,
    MixedTag.INT: _int,
    MixedTag.FLOAT: _float,
    MixedTag.STRING: _string,
    MixedTag.DATA: _data,
    MixedTag.DATE: _date,
    MixedTag.OBJECT_ID: _object_id,
    MixedTag.UUID: _uuid,
    MixedTag.DECIMAL: _decimal,
}
_TAG_DECODERS: dict[int, Callable[[Any], Any]] = {
    MixedTag.BOOL: _to_bool,
    MixedTag.FLOAT: _to_float,
    MixedTag.DATE: date_from_storage,
    MixedTag.OBJECT_ID: _to_object_id,
    MixedTag.UUID: _to_uuid,
    MixedTag.DECIMAL: Decimal,
}


def encode_mixed_primitive(value: Any) -> tuple[Any, int]:
    tag = mixed_tag_of(value)
    if tag == MixedTag.NULL:
        return None, 0
    return _TAG_ENCODERS[tag](value), int(tag)


def decode_mixed_primitive(value: Any, tag: int | None) -> Any:
    if not tag:
        return None
    decode = _TAG_DECODERS.get(tag)
    return value if decode is None else decode(value)


def encode_query_value(value: Any) -> Any:
    """Storage form of a query argument whose property type is not known (best effort)."""
    if value is None:
        return None
    tag = mixed_tag_of(value)
    encoded, _ = encode_mixed_primitive(value)
    if tag == MixedTag.FLOAT and math.isnan(value):
        return None
    return encoded
