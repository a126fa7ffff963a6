"""The registry of property types: everything the code base knows about each type.

One :class:`PropertyType` per primitive type of a schema (``bool``, ``int``, ``float``,
``double``, ``string``, ``data``, ``date``, ``objectId``, ``uuid``, ``decimal128``)
says how its values are checked and stored (:mod:`studio.core.storage_codecs`), its
SQL column type and the default a required column gets, its mixed type tag, which
Python classes its values have, what the query language allows on it, and how its
values read from and write to text (:mod:`studio.core.text_codecs`).

Schema parsing, storage, migrations, queries, CSV import, the Studio's editors and
code generation all read this table, so adding a type starts here (see the section
"Adding a property type" of docs/architecture.md).

``mixed`` is not in the table: it holds a value of any of these types with a tag
(``MIXED`` names it; :data:`SCHEMA_TYPES` lists it with the others). Links
(``object``) and backlinks (``linkingObjects``) are relations, not value types.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from studio.core import storage_codecs as storage
from studio.core import text_codecs as text
from studio.core.objectid import ObjectId
from studio.core.storage_codecs import EPOCH, MixedTag

MIXED = "mixed"
LINK = "object"


@dataclass(frozen=True, slots=True)
class PropertyType:
    """One primitive property type and every per-type fact about it.

    ``encode`` checks a Python value and returns its storage form (raising
    :class:`~studio.core.errors.ValueTypeError`); ``decode`` is its inverse, None
    where the stored value is the Python value already. ``default`` is what a
    required property holds before it is set (sync creates objects that way); the
    SQL default of a required column is its stored form. ``value_classes`` are the
    Python classes whose values are of this type when no schema says (mixed values,
    query arguments, model annotations): the first is the one a model annotation
    names; none for ``float``, whose values are Python floats like ``double``'s.
    ``parse`` reads text (raising :class:`~studio.core.errors.BadValueError`) and
    ``format`` writes it back. ``hint`` is the short example an editor shows.
    """

    name: str
    sql_type: str
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any] | None
    default: Any
    mixed_tag: MixedTag
    value_classes: tuple[type, ...]
    parse: Callable[[str], Any]
    format: Callable[[Any], str]
    hint: str
    numeric: bool = False
    ordered: bool = False
    """Whether queries may compare it with ``< <= > >=`` (Realm refuses bool and uuid)."""
    string_ops: bool = False
    """Whether queries may use BEGINSWITH, CONTAINS, LIKE... and ``[c]`` on it."""
    indexable: bool = False
    primary_key: bool = False
    schema_aliases: tuple[str, ...] = ()
    """Other names a schema may use for the type (any case), e.g. ``boolean``."""
    query_names: tuple[str, ...] = ()
    """The names ``mixed.@type == '...'`` accepts for the type, in lower case."""

    @property
    def sql_default(self) -> str:
        """The SQL literal of :attr:`default`'s stored form (for ``ADD COLUMN ... DEFAULT``)."""
        return storage.sql_literal(self.encode(self.default))


_TYPES = (
    PropertyType(
        "bool", "INTEGER", storage.encode_bool, storage.decode_bool, False, MixedTag.BOOL,
        (bool,), text.parse_bool, text.format_bool, "true or false",
        indexable=True, schema_aliases=("boolean",), query_names=("bool",),
    ),
    PropertyType(
        "int", "INTEGER", storage.encode_int, None, 0, MixedTag.INT,
        (int,), text.parse_int, text.format_text, "whole number",
        numeric=True, ordered=True, indexable=True, primary_key=True, query_names=("int",),
    ),
    PropertyType(
        "float", "REAL", storage.encode_float, storage.decode_float, 0.0, MixedTag.FLOAT,
        (), text.parse_float, text.format_float, "number",
        numeric=True, ordered=True, query_names=("float",),
    ),
    PropertyType(
        "double", "REAL", storage.encode_float, storage.decode_float, 0.0, MixedTag.FLOAT,
        (float,), text.parse_float, text.format_float, "number",
        numeric=True, ordered=True, query_names=("double",),
    ),
    PropertyType(
        "string", "TEXT", storage.encode_string, None, "", MixedTag.STRING,
        (str,), text.parse_string, text.format_string, "",
        ordered=True, string_ops=True, indexable=True, primary_key=True,
        schema_aliases=("str",), query_names=("string",),
    ),
    PropertyType(
        "data", "BLOB", storage.encode_data, None, b"", MixedTag.DATA,
        (bytes, bytearray, memoryview), text.parse_data, text.format_data, "base64",
        ordered=True, string_ops=True, schema_aliases=("binary",),
        query_names=("data", "binary"),
    ),
    PropertyType(
        "date", "INTEGER", storage.encode_date, storage.date_from_storage, EPOCH, MixedTag.DATE,
        (datetime,), text.parse_date, text.format_date, "2024-05-01T09:30:00Z",
        ordered=True, indexable=True, query_names=("date", "timestamp"),
    ),
    PropertyType(
        "objectId", "BLOB", storage.encode_object_id, storage.decode_object_id,
        ObjectId(b"\x00" * 12), MixedTag.OBJECT_ID,
        (ObjectId,), text.parse_object_id, text.format_text, "24 hex digits",
        ordered=True, indexable=True, primary_key=True, query_names=("objectid",),
    ),
    PropertyType(
        "uuid", "BLOB", storage.encode_uuid, storage.decode_uuid, uuid.UUID(int=0),
        MixedTag.UUID, (uuid.UUID,), text.parse_uuid, text.format_text, "UUID",
        indexable=True, primary_key=True, query_names=("uuid",),
    ),
    PropertyType(
        "decimal128", "TEXT COLLATE DECIMAL", storage.encode_decimal, Decimal, Decimal(0),
        MixedTag.DECIMAL, (Decimal,), text.parse_decimal, text.format_text, "decimal number",
        numeric=True, ordered=True, schema_aliases=("decimal",),
        query_names=("decimal128", "decimal"),
    ),
)

PROPERTY_TYPES: dict[str, PropertyType] = {t.name: t for t in _TYPES}
"""Every primitive value type by its schema name, in the order schemas usually list them."""

SCHEMA_TYPES: tuple[str, ...] = (*PROPERTY_TYPES, MIXED)
"""Every base type a property may have besides links: the value types and ``mixed``."""

_BY_CLASS: dict[type, PropertyType] = {
    cls: t for t in reversed(_TYPES) for cls in reversed(t.value_classes)
}
_BY_TAG: dict[int, PropertyType] = {t.mixed_tag: t for t in reversed(_TYPES) if t.value_classes}


def property_type(name: str) -> PropertyType:
    """The type named ``name`` (a KeyError names the known types)."""
    try:
        return PROPERTY_TYPES[name]
    except KeyError:
        raise KeyError(
            f"{name!r} is not a property type; the types are: {', '.join(PROPERTY_TYPES)}"
        ) from None


def type_of_value(value: Any) -> PropertyType | None:
    """The type a Python value has when no schema says (``double`` for a float), or None
    for None and values of no property type (objects, lists...)."""
    found = _BY_CLASS.get(type(value))
    if found is not None or value is None:
        return found
    for t in _TYPES:  # subclasses (an IntEnum, a datetime subclass); bool is tried before int
        if t.value_classes and isinstance(value, t.value_classes):
            return t
    return None


def type_of_tag(tag: int) -> PropertyType | None:
    """The type of a mixed value with this tag (``double`` for FLOAT), None for NULL and LINK."""
    return _BY_TAG.get(tag)
