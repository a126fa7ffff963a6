"""Values as the Studio shows and reads them: display text, edit text, parsing.

Pure Python (no Qt), so the rules are testable on their own and shared by the
table, the delegates and the create panel. Objects are duck-typed (anything with
an ``object_schema``), so a genuine Realm Core file's objects show the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from studio.core.property_types import MIXED, PROPERTY_TYPES, type_of_value
from studio.core.text_codecs import format_date as format_date
from studio.core.text_codecs import format_float as format_float
from studio.core.text_codecs import parse_date as parse_date
from studio.primitives.objectid import ObjectId

# Types a mixed value can take in the mixed editor's type picker, in the picker's order:
# null, then each type a Python value can have (float values are doubles).
MIXED_TYPES: tuple[str, ...] = (
    "null", *(t.name for t in PROPERTY_TYPES.values() if t.value_classes),
)
NUMERIC_TYPES = frozenset(t.name for t in PROPERTY_TYPES.values() if t.numeric)


@dataclass(frozen=True, slots=True)
class Editor:
    """How the Studio edits values of one type.

    ``kind``: ``checkbox`` (toggled in the cell), ``line`` (a line edit that refuses what
    does not parse, with the registry's hint), ``datetime`` (a UTC date-time editor),
    ``file`` (loaded from and saved to files through the cell's menu) or ``mixed`` (a
    type picker, then a line). ``new_value`` is what a new object's form starts with.
    """

    kind: str
    new_value: Callable[[], Any]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _zero(type_name: str) -> Callable[[], Any]:
    default = PROPERTY_TYPES[type_name].default
    return lambda: default


EDITORS: dict[str, Editor] = {
    "bool": Editor("checkbox", _zero("bool")),
    "int": Editor("line", _zero("int")),
    "float": Editor("line", _zero("float")),
    "double": Editor("line", _zero("double")),
    "string": Editor("line", _zero("string")),
    "data": Editor("file", _zero("data")),
    "date": Editor("datetime", _now),
    "objectId": Editor("line", ObjectId),  # a fresh id: what people want almost always
    "uuid": Editor("line", uuid.uuid4),
    "decimal128": Editor("line", _zero("decimal128")),
    MIXED: Editor("mixed", lambda: None),
}
"""The editor of every schema type (:data:`~studio.core.property_types.SCHEMA_TYPES`)."""

# Each exact Python class of a type's values and the type's formatter (subclasses of them
# go through type_of_value).
_FORMATS: dict[type, Callable[[Any], str]] = {
    cls: t.format for t in reversed(PROPERTY_TYPES.values()) for cls in t.value_classes
}
_MAX_TEXT = 200
_PREVIEW_ITEMS = 3


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
    if isinstance(value, str):
        return _one_line(value, limit)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"{format_size(len(value))} data"
    format_value = _FORMATS.get(type(value))  # the common case: one dict lookup per cell
    if format_value is not None:
        return format_value(value)
    value_type = type_of_value(value)
    if value_type is not None:
        return value_type.format(value)
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
    value_type = type_of_value(value)
    if value_type is not None:
        return value_type.format(value)
    if is_object(value):
        schema = value.object_schema
        return edit_text(value[schema.primary_key]) if schema.primary_key else ""
    return str(value)


def mixed_type_of(value: Any) -> str:
    """The type picker entry of a mixed value (``object`` for a link)."""
    if value is None:
        return "null"
    value_type = type_of_value(value)
    return "object" if value_type is None else value_type.name


def parse_value(type_name: str, text: str, optional: bool = False) -> Any:
    """Read what a person typed as a value of ``type_name``; raises ValueError saying why.

    An empty text is null for optional non-string types; a string keeps ``""``. Each
    type reads as its registry parser reads it (the same as a CSV cell).
    """
    if type_name == "string":
        return text
    if type_name == "null":
        return None
    if not text.strip():
        if optional:
            return None
        raise ValueError(f"a {type_name} value is required here")
    value_type = PROPERTY_TYPES.get(type_name)
    if value_type is None:
        raise ValueError(f"values of type {type_name} cannot be typed in")
    return value_type.parse(text)


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

