"""Types of query operands, constants, and which comparisons make sense.

A property or expression has a *value type*: one of the schema's primitive type
names (``int``, ``string``, ``decimal128``, ``mixed``...), ``object`` for links,
or ``typename`` for ``mixed.@type``. Constants (literals and arguments) have a
*constant kind*: ``null bool int float decimal string data date objectId uuid
object list``. This module checks a pair for compatibility and turns a constant
into the SQL parameter for the other side's storage encoding.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from studio.core.property_types import LINK, MIXED, PROPERTY_TYPES, type_of_value
from studio.core.values import MixedTag, date_to_storage

NUMERIC_TYPES = frozenset(t.name for t in PROPERTY_TYPES.values() if t.numeric)
NUMERIC_CONSTANTS = frozenset({"int", "float", "decimal"})
# Types that support < <= > >= (Realm refuses ordering on bool, uuid and links).
ORDERED_TYPES = frozenset({*(t.name for t in PROPERTY_TYPES.values() if t.ordered), MIXED})
STRING_OP_TYPES = frozenset({*(t.name for t in PROPERTY_TYPES.values() if t.string_ops), MIXED})
EQUALITY_OPS = frozenset({"==", "!="})
ORDERING_OPS = frozenset({"<", "<=", ">", ">="})
STRING_OPS = frozenset({"BEGINSWITH", "ENDSWITH", "CONTAINS", "LIKE"})

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# The type tag a value of each (non-mixed) value type would have in a mixed column.
STATIC_TAGS: dict[str, int] = {
    **{name: t.mixed_tag for name, t in PROPERTY_TYPES.items()},
    LINK: MixedTag.LINK,
}

# Names accepted on the right of ``mixed.@type ==`` and the tags each stands for.
TYPE_NAMES: dict[str, tuple[int, ...]] = {
    "null": (MixedTag.NULL,),
    **{name: (t.mixed_tag,) for t in PROPERTY_TYPES.values() for name in t.query_names},
    "object": (MixedTag.LINK,),
    "link": (MixedTag.LINK,),
    "numeric": tuple(dict.fromkeys(t.mixed_tag for t in PROPERTY_TYPES.values() if t.numeric)),
}

# The constant kind of a Python value of each type, where it is not the type's name.
_CONSTANT_KINDS = {"double": "float", "decimal128": "decimal"}

# The constant kind of each non-numeric value type is its name (numbers have three kinds).
_CONSTANT_OF_TYPE = {
    **{name: name for name, t in PROPERTY_TYPES.items() if not t.numeric},
    LINK: LINK,
}


@dataclass(frozen=True, slots=True)
class Const:
    """A constant operand: a literal or an argument, already converted.

    ``value`` by kind: null None; bool bool; int int; float float; decimal Decimal;
    string str; data bytes; date int nanoseconds since the epoch; objectId ObjectId;
    uuid UUID; object (class name, key); list tuple[Const, ...].
    ``text`` is a numeric literal's lexeme (exact for decimal128), else None.
    """

    kind: str
    value: Any
    pos: int
    text: str | None = None


class ConstError(Exception):
    """Raised by :func:`const_from_python` with a message; the caller adds the position."""


def const_from_python(value: Any, pos: int) -> Const:
    """Convert a query argument to a constant."""
    if value is None:
        return Const("null", None, pos)
    value_type = type_of_value(value)
    if value_type is not None:
        kind = _CONSTANT_KINDS.get(value_type.name, value_type.name)
        if kind == "date":
            return Const(kind, date_to_storage(value) * 1000, pos)
        if kind == "data":
            return Const(kind, bytes(value), pos)
        return Const(kind, value, pos)
    key = getattr(value, "_key", None)
    class_name = getattr(value, "_class_name", None)
    if isinstance(key, int) and isinstance(class_name, str):
        return Const("object", (class_name, key), pos)
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        # Lists, tuples, sets, and also Results or collections of objects (for IN).
        items = []
        for item in value:
            const = const_from_python(item, pos)
            if const.kind == "list":
                raise ConstError("a list argument cannot contain lists")
            items.append(const)
        return Const("list", tuple(items), pos)
    raise ConstError(
        f"unsupported argument type {type(value).__name__}; expected None, bool, int, float, "
        "Decimal, str, bytes, datetime, ObjectId, UUID, an object or (for IN) a list"
    )


def describe_const(const: Const) -> str:
    """How an error message names a constant's type."""
    names = {
        "null": "null", "bool": "a bool", "int": "a number", "float": "a number",
        "decimal": "a decimal", "string": "a string", "data": "binary data", "date": "a date",
        "objectId": "an objectId", "uuid": "a uuid", "list": "a list",
    }
    if const.kind == "object":
        return f"an object of class {const.value[0]}"
    return names.get(const.kind, f"a {const.kind}")


def describe_type(value_type: str, object_class: str | None = None) -> str:
    if value_type == "object":
        return f"a link to {object_class}"
    if value_type == "typename":
        return "a type name (@type)"
    article = "an" if value_type in ("int", "objectId") else "a"
    return f"{article} {value_type} value"


def const_fits(value_type: str, object_class: str | None, const: Const) -> bool:
    """Whether a constant can be compared with values of ``value_type`` at all."""
    kind = const.kind
    if kind == "null" or value_type == "mixed":
        return kind != "list"
    if value_type in NUMERIC_TYPES:
        return kind in NUMERIC_CONSTANTS
    if value_type == "typename":
        return kind == "string"
    if value_type == "string":
        return kind in ("string", "data")
    if value_type == "data":
        return kind in ("string", "data")
    if value_type == "object":
        return kind == "object"
    return _CONSTANT_OF_TYPE.get(value_type) == kind


def types_comparable(left: str, right: str) -> bool:
    """Whether two non-constant operands of these value types may be compared."""
    if left == right or "mixed" in (left, right):
        return True
    if left in NUMERIC_TYPES and right in NUMERIC_TYPES:
        return True
    return {left, right} == {"string", "data"}


def to_decimal(const: Const) -> Decimal:
    """A numeric constant as a Decimal: literals exactly as written, floats by their repr."""
    value = const.value
    if const.kind == "decimal":
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return Decimal(str(value))  # 'inf', '-inf', 'nan' are valid Decimal text
        if const.text is not None:
            try:
                return Decimal(const.text)  # exact: 0.1 stays 0.1, not 0.1000000000000000055
            except InvalidOperation:
                pass
        return Decimal(repr(value))
    return Decimal(value)


def is_nan(const: Const) -> bool:
    """Whether a numeric constant is NaN (a ``nan`` literal, a float or Decimal argument)."""
    value = const.value
    if const.kind == "decimal":
        return bool(Decimal(value).is_nan())
    return const.kind == "float" and value != value


def numeric_param(const: Const) -> int | float:
    """A numeric constant as an SQLite INTEGER or REAL parameter."""
    value = const.value
    if const.kind == "decimal":
        decimal = Decimal(value)
        if decimal.is_finite() and decimal == decimal.to_integral_value():
            value = int(decimal)
        else:
            return float(decimal)
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return float(value)
    return value  # type: ignore[no-any-return]


def decimal_param(const: Const) -> str:
    """A numeric constant in the decimal128 storage form (canonical Decimal text)."""
    return str(to_decimal(const))


def date_bound(nanos: int, op: str) -> tuple[str, int | None]:
    """Rewrite ``micros_column op nanos`` as ``micros_column op2 micros``.

    Stored dates have microsecond precision; a literal may carry nanoseconds. The
    result keeps the comparison exact: e.g. ``x < 1.5us`` is ``x <= 1us``. Returns
    (op2, micros), or ("never", None) for an equality that no stored value can meet.
    """
    floor = nanos // 1000
    exact = nanos % 1000 == 0
    if exact:
        return op, floor
    if op in ("==", "IN"):
        return "never", None
    if op == "!=":
        return "always", None
    if op in ("<", "<="):
        return "<=", floor
    return ">", floor  # > and >=


def string_of(const: Const) -> str:
    """A string or data constant as text (data is decoded as UTF-8)."""
    if const.kind == "data":
        return bytes(const.value).decode("utf-8", errors="replace")
    return str(const.value)


def bytes_of(const: Const) -> bytes:
    if const.kind == "string":
        return str(const.value).encode("utf-8")
    return bytes(const.value)
