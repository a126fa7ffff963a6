"""Values as the Studio shows and reads them: display text, edit text, parsing.

Pure Python (no Qt), so the rules are testable on their own and shared by the
table, the delegates and the create panel. Objects are duck-typed (anything with
an ``object_schema``), so a genuine Realm Core file's objects show the same way.
"""

from __future__ import annotations

import base64
import binascii
import math
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from studio.core.export_files import format_date
from studio.primitives.objectid import ObjectId

# Types a mixed value can take in the mixed editor's type picker, in the picker's order.
MIXED_TYPES: tuple[str, ...] = (
    "null", "bool", "int", "double", "string", "data", "date", "objectId", "uuid", "decimal128",
)
NUMERIC_TYPES = frozenset({"int", "float", "double", "decimal128"})
_MAX_TEXT = 200
_PREVIEW_ITEMS = 3
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def format_size(size: int) -> str:
    """A byte count for people: ``0 B``, ``512 B``, ``1.5 KB``, ``12.0 MB``."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            return f"{value:.1f} {unit}"
    return f"{size} B"  # unreachable; keeps type checkers content


def format_float(value: float) -> str:
    """Shortest text that reads back to the same double (``repr``), NaN and infinities named."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def is_object(value: Any) -> bool:
    """True for a realm object (core or Realm Core file), which has an ``object_schema``."""
    # Results also have an object_schema, but they have a length and objects do not.
    return hasattr(value, "object_schema") and not hasattr(value, "__len__")


def object_class(obj: Any) -> str:
    return str(obj.object_schema.name)


def object_key(obj: Any) -> int | None:
    key = getattr(obj, "_key", None)
    return key if isinstance(key, int) else None


def object_summary(obj: Any) -> str:
    """How a link shows its target: a readable primary key (string or int), else the first
    non-empty string property (an ObjectId says little to a person), else the primary key
    or object key. Deleted targets say so instead of raising."""
    try:
        schema = obj.object_schema
        pk = schema.get(schema.primary_key) if schema.primary_key is not None else None
        if pk is not None and pk.type in ("string", "int"):
            return scalar_text(obj[pk.name])
        for prop in schema.properties:
            if prop.type == "string" and prop.collection is None:
                value = obj[prop.name]
                if value:
                    return _one_line(str(value), 60)
        if pk is not None:
            return scalar_text(obj[pk.name])
        key = object_key(obj)
        return f"#{key}" if key is not None else schema.name
    except Exception:  # a deleted target, a closed realm: show, never crash a paint
        return "(deleted)"


def _one_line(text: str, limit: int = _MAX_TEXT) -> str:
    text = text.replace("\r\n", "⏎").replace("\n", "⏎").replace("\r", "⏎")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scalar_text(value: Any, limit: int = _MAX_TEXT) -> str:
    """Display text of a primitive value or an object (a link shows its summary)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _one_line(value, limit)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"{format_size(len(value))} data"
    if isinstance(value, datetime):
        return format_date(value)
    if isinstance(value, ObjectId | uuid.UUID | Decimal):
        return str(value)
    if is_object(value):
        return f"{object_class(value)} {object_summary(value)}"
    return _one_line(str(value), limit)


def collection_items(value: Any) -> list[Any]:
    """The elements of a list/set (or ``(key, value)`` pairs of a dictionary), as a list."""
    if isinstance(value, Mapping) or (hasattr(value, "items") and not isinstance(value, list)):
        return list(value.items())
    return list(value)


def collection_preview(value: Any, limit: int = _PREVIEW_ITEMS) -> str:
    """``3 items: a, b, c`` style text for a list, set, dictionary or backlinks cell."""
    try:
        items = collection_items(value)
    except Exception:
        return "(unavailable)"
    count = len(items)
    noun = "item" if count == 1 else "items"
    if count == 0:
        return "0 items"
    shown: list[str] = []
    for item in items[:limit]:
        if isinstance(item, tuple) and len(item) == 2:
            shown.append(f"{item[0]}: {_preview_value(item[1])}")
        else:
            shown.append(_preview_value(item))
    more = ", …" if count > limit else ""
    return f"{count} {noun}: " + ", ".join(shown) + more


def _preview_value(value: Any) -> str:
    if is_object(value):
        return object_summary(value)
    return scalar_text(value, 30)


def backlinks_text(count: int, origin_class: str) -> str:
    return f"{count} {origin_class}" + ("" if count == 1 else " objects")


# -- editing ---------------------------------------------------------------------------------


def edit_text(value: Any) -> str:
    """The text an editor starts with; :func:`parse_value` reads it back to ``value``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        return format_date(value)
    if is_object(value):
        schema = value.object_schema
        return edit_text(value[schema.primary_key]) if schema.primary_key else ""
    return str(value)


def mixed_type_of(value: Any) -> str:
    """The type picker entry of a mixed value (``object`` for a link)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes | bytearray | memoryview):
        return "data"
    if isinstance(value, datetime):
        return "date"
    if isinstance(value, ObjectId):
        return "objectId"
    if isinstance(value, uuid.UUID):
        return "uuid"
    if isinstance(value, Decimal):
        return "decimal128"
    return "object"


def parse_date(text: str) -> datetime:
    """ISO 8601 (``2024-05-01``, ``2024-05-01T10:00:00Z``, with an offset); naive is UTC."""
    cleaned = text.strip()
    if cleaned.endswith(("z", "Z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date; use ISO 8601 such as 2024-05-01T09:30:00Z"
        ) from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_value(type_name: str, text: str, optional: bool = False) -> Any:
    """Read what a person typed as a value of ``type_name``; raises ValueError saying why.

    An empty text is null for optional non-string types; a string keeps ``""``.
    """
    stripped = text.strip()
    if type_name == "string":
        return text
    if type_name == "null":
        return None
    if not stripped:
        if optional:
            return None
        raise ValueError(f"a {type_name} value is required here")
    if type_name == "bool":
        lowered = stripped.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValueError(f"{text!r} is not a bool; type true or false")
    if type_name == "int":
        try:
            value = int(stripped.replace("_", ""), 10)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError(f"{value} does not fit in a 64-bit int")
        return value
    if type_name in ("float", "double"):
        special = {"nan": math.nan, "infinity": math.inf, "inf": math.inf,
                   "-infinity": -math.inf, "-inf": -math.inf, "+infinity": math.inf}
        if stripped.lower() in special:
            return special[stripped.lower()]
        try:
            return float(stripped)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if type_name == "decimal128":
        try:
            return Decimal(stripped)
        except InvalidOperation:
            raise ValueError(f"{text!r} is not a decimal number") from None
    if type_name == "date":
        return parse_date(stripped)
    if type_name == "objectId":
        try:
            return ObjectId(stripped)
        except (ValueError, TypeError):
            raise ValueError(f"{text!r} is not an ObjectId (24 hex digits)") from None
    if type_name == "uuid":
        try:
            return uuid.UUID(stripped)
        except ValueError:
            raise ValueError(f"{text!r} is not a UUID (like 123e4567-e89b-12d3-a456-426614174000)"
                             ) from None
    if type_name == "data":
        try:
            return base64.b64decode(stripped, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{text!r} is not base64 data") from None
    raise ValueError(f"values of type {type_name} cannot be typed in")


def is_valid(type_name: str, text: str, optional: bool = False) -> bool:
    try:
        parse_value(type_name, text, optional)
    except ValueError:
        return False
    return True


def type_label(prop: Any) -> str:
    """``int?``, ``Person[]``, ``linkingObjects<Loan.book>``: a property's type for tooltips."""
    if getattr(prop, "is_backlink", False):
        return f"linkingObjects({prop.object_type}.{prop.origin_property})"
    return str(prop.type_string)

