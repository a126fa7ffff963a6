"""Values inside instructions: what is allowed, and exact identity keys.

Python's ``==`` is too loose for sync: ``1 == True == 1.0`` and
``Decimal("1.0") == Decimal("1")``, but a replica that stores ``True`` is not in
the same state as one that stores ``1``. Merge decisions ("is this the same set
element?") and the reference model therefore compare :func:`value_key`, which
is exact and type-strict, and identical on every replica.
"""

from __future__ import annotations

import math
import struct
import uuid
from collections.abc import Hashable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from studio.primitives.instructions import EMBEDDED, EmbeddedObject, Link
from studio.primitives.objectid import ObjectId

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

_NAN_BITS: Final = struct.pack(">d", math.nan)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def wrap_int64(value: int) -> int:
    """Two's complement wrap-around, as Realm's AddInteger does on overflow."""
    return ((value - INT64_MIN) % 2**64) + INT64_MIN


def is_int(value: object) -> bool:
    """An int that is not a bool (bool is an int subclass in Python)."""
    return type(value) is int


def value_error(value: object, *, allow_embedded: bool = True) -> str | None:
    """Why ``value`` cannot appear in an instruction, or None when it can."""
    t = type(value)
    if value is None or t is bool or t is str or t is bytes or t is float:
        return None
    if t is int:
        if INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
            return None
        return f"integer {value} does not fit in 64 bits"
    if t is ObjectId or t is uuid.UUID:
        return None
    if t is Decimal:
        assert isinstance(value, Decimal)
        if value.is_snan():
            return "a signaling NaN decimal cannot be stored"
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return "a date must be timezone-aware (UTC)"
        return None
    if t is Link:
        assert isinstance(value, Link)
        if not isinstance(value.class_name, str) or not value.class_name:
            return "a link needs a non-empty class name"
        return primary_key_error(value.primary_key)
    if t is EmbeddedObject:
        return None if allow_embedded else "an embedded object is not allowed here"
    return f"values of type {t.__name__} cannot be synced"


def primary_key_error(pk: object) -> str | None:
    """Why ``pk`` cannot be a primary key, or None. Realm allows int, string,
    ObjectId, UUID, and null for optional keys."""
    t = type(pk)
    if pk is None or t is str or t is ObjectId or t is uuid.UUID:
        return None
    if t is int:
        if INT64_MIN <= pk <= INT64_MAX:  # type: ignore[operator]
            return None
        return f"primary key {pk} does not fit in 64 bits"
    return f"a primary key cannot be of type {t.__name__}"


def value_key(value: Any) -> Hashable:
    """An exact, type-strict, hashable identity for a value.

    Floats compare by bit pattern (with every NaN the same), decimals by their
    exact digits and exponent, dates by the instant (microseconds since the
    epoch), so two replicas holding "the same" value always agree.
    """
    t = type(value)
    if t is str:
        return ("s", value)
    if t is int:
        return ("i", value)
    if value is None:
        return ("n",)
    if t is bool:
        return ("b", value)
    if t is float:
        return ("f", _NAN_BITS if value != value else struct.pack(">d", value))
    if t is bytes:
        return ("y", value)
    if t is ObjectId:
        return ("o", value.binary)
    if t is uuid.UUID:
        return ("u", value.bytes)
    if t is Decimal:
        if value.is_nan():
            return ("d", "NaN")
        return ("d", value.as_tuple())
    if isinstance(value, datetime):
        delta = value - _EPOCH
        return ("t", (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds)
    if t is Link:
        return ("l", value.class_name, value_key(value.primary_key))
    if value is EMBEDDED or t is EmbeddedObject:
        return ("e",)
    raise TypeError(f"values of type {t.__name__} cannot be synced")


def same_value(a: Any, b: Any) -> bool:
    """Exact equality, see :func:`value_key`."""
    return value_key(a) == value_key(b)
