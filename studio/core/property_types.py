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

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from studio.core import storage_codecs as storage
from studio.core import text_codecs as text
from studio.core.storage_codecs import EPOCH, MixedTag
from studio.core.text_codecs import INT64_MAX, INT64_MIN
from studio.primitives.objectid import ObjectId

MIXED = "mixed"
LINK = "object"
# Float and double columns have no declared type: a REAL column stores a float with an
# integral value as an integer (SQLite's space optimization) and so turns -0.0 into
# 0.0; without affinity the 8-byte IEEE value is kept as it is (docs/storage-layout.md).
FLOAT_SQL_TYPE = ""


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
    examples: tuple[Any, ...]
    """Values, edge cases included, that every part must round-trip (the registry tests
    store, query, parse, format and sync each of them)."""
    numeric: bool = False
    ordered: bool = False
    """Whether queries may compare it with ``< <= > >=`` (Realm orders false < true; it
    refuses uuid)."""
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
        "bool", sql_type="INTEGER", encode=storage.encode_bool, decode=storage.decode_bool,
        default=False, mixed_tag=MixedTag.BOOL, value_classes=(bool,),
        parse=text.parse_bool, format=text.format_bool, hint="true or false",
        examples=(False, True),
        ordered=True, indexable=True, schema_aliases=("boolean",), query_names=("bool",),
    ),
    PropertyType(
        "int", sql_type="INTEGER", encode=storage.encode_int, decode=None,
        default=0, mixed_tag=MixedTag.INT, value_classes=(int,),
        parse=text.parse_int, format=text.format_text, hint="whole number",
        examples=(0, -7, INT64_MIN, INT64_MAX),
        numeric=True, ordered=True, indexable=True, primary_key=True, query_names=("int",),
    ),
    PropertyType(
        "float", sql_type=FLOAT_SQL_TYPE, encode=storage.encode_float, decode=storage.decode_float,
        default=0.0, mixed_tag=MixedTag.FLOAT, value_classes=(),
        parse=text.parse_float, format=text.format_float, hint="number",
        examples=(0.0, -0.0, -1.5, 3.25, math.inf, -math.inf),
        numeric=True, ordered=True, query_names=("float",),
    ),
    PropertyType(
        "double", sql_type=FLOAT_SQL_TYPE, encode=storage.encode_float, decode=storage.decode_float,
        default=0.0, mixed_tag=MixedTag.FLOAT, value_classes=(float,),
        parse=text.parse_float, format=text.format_float, hint="number",
        examples=(0.0, -0.0, -1.5, 0.1, 1e300, 5e-324, math.inf, -math.inf),
        numeric=True, ordered=True, query_names=("double",),
    ),
    PropertyType(
        "string", sql_type="TEXT", encode=storage.encode_string, decode=None,
        default="", mixed_tag=MixedTag.STRING, value_classes=(str,),
        parse=text.parse_string, format=text.format_string, hint="",
        examples=("", "héllo, \"world\"\n", " padded ", "0", "null"),
        ordered=True, string_ops=True, indexable=True, primary_key=True,
        schema_aliases=("str",), query_names=("string",),
    ),
    PropertyType(
        "data", sql_type="BLOB", encode=storage.encode_data, decode=None,
        default=b"", mixed_tag=MixedTag.DATA, value_classes=(bytes, bytearray, memoryview),
        parse=text.parse_data, format=text.format_data, hint="base64",
        examples=(b"", b"\x00", bytes(range(256))),
        ordered=True, string_ops=True, schema_aliases=("binary",),
        query_names=("data", "binary"),
    ),
    PropertyType(
        "date", sql_type="INTEGER", encode=storage.encode_date,
        decode=storage.date_from_storage, default=EPOCH, mixed_tag=MixedTag.DATE,
        value_classes=(datetime,),
        parse=text.parse_date, format=text.format_date, hint="2024-05-01T09:30:00Z",
        examples=(EPOCH, datetime(2024, 5, 1, 9, 30, 0, 500000, UTC),
                  datetime(33, 1, 2, 0, 0, 0, 7, UTC), datetime(1969, 12, 31, 23, 59, 59, 0, UTC)),
        ordered=True, indexable=True, query_names=("date", "timestamp"),
    ),
    PropertyType(
        "objectId", sql_type="BLOB", encode=storage.encode_object_id,
        decode=storage.decode_object_id, default=ObjectId(b"\x00" * 12),
        mixed_tag=MixedTag.OBJECT_ID, value_classes=(ObjectId,),
        parse=text.parse_object_id, format=text.format_text, hint="24 hex digits",
        examples=(ObjectId(b"\x00" * 12), ObjectId("65f1c0ffee00000000000001")),
        ordered=True, indexable=True, primary_key=True, query_names=("objectid",),
    ),
    PropertyType(
        "uuid", sql_type="BLOB", encode=storage.encode_uuid, decode=storage.decode_uuid,
        default=uuid.UUID(int=0), mixed_tag=MixedTag.UUID, value_classes=(uuid.UUID,),
        parse=text.parse_uuid, format=text.format_text, hint="UUID",
        examples=(uuid.UUID(int=0), uuid.UUID("123e4567-e89b-12d3-a456-426614174000")),
        indexable=True, primary_key=True, query_names=("uuid",),
    ),
    PropertyType(
        "decimal128", sql_type="TEXT COLLATE DECIMAL", encode=storage.encode_decimal,
        decode=Decimal, default=Decimal(0), mixed_tag=MixedTag.DECIMAL,
        value_classes=(Decimal,),
        parse=text.parse_decimal, format=text.format_text, hint="decimal number",
        examples=(Decimal(0), Decimal("-1.50"), Decimal("1E+30"), Decimal("0.1")),
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
