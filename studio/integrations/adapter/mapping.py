"""How realm properties map to PostgreSQL columns, and values both ways.

One table per realm class (all realms in it, told apart by the ``_realm``
column); one typed column per scalar property; ``jsonb`` for mixed values,
lists, sets, dictionaries and embedded objects; a link is the target's primary
key. docs/adapter.md has the table per type and the reasons.

Values going to PostgreSQL are Python values psycopg adapts; values coming back
are read from the change table's ``to_jsonb(row)`` image, so each column type
says how its JSON form is turned back into a realm value. A value that cannot
be (a NULL in a required column, text that is no ObjectId, a list holding a
string where ints belong) raises :class:`BadRowError`, which sends the row to
the dead letters.
"""

from __future__ import annotations

import base64
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from psycopg.types.json import Jsonb

from studio.core import RealmDictionary, RealmList, RealmObject, RealmSet
from studio.core.schema import ObjectSchema, Property
from studio.integrations.errors import BadRowError
from studio.primitives.objectid import ObjectId

REALM_COLUMN = "_realm"
"""The column that says which realm a row belongs to."""

SCALAR_COLUMN_TYPES: dict[str, str] = {
    "int": "bigint",
    "bool": "boolean",
    "float": "real",
    "double": "double precision",
    "string": "text",
    "data": "bytea",
    "date": "timestamptz",
    "objectId": "text",
    "uuid": "uuid",
    "decimal128": "numeric",
    "mixed": "jsonb",
}

_INFERRED_TYPES: dict[str, str] = {
    "bigint": "int", "integer": "int", "smallint": "int", "boolean": "bool",
    "real": "float", "double precision": "double", "text": "string",
    "character varying": "string", "bytea": "data", "timestamp with time zone": "date",
    "timestamp without time zone": "date", "uuid": "uuid", "numeric": "decimal128",
    "jsonb": "mixed", "json": "mixed",
}  # fmt: skip
"""A column the adapter did not create (no ``studio:`` comment): its realm type."""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def quote(name: str) -> str:
    """A PostgreSQL identifier (class and property names keep their case)."""
    return '"' + name.replace('"', '""') + '"'


def is_mirrored(schema: ObjectSchema) -> bool:
    """Top-level classes with a primary key get a table (embedded ones live in
    their parent's jsonb column)."""
    return not schema.embedded and schema.primary_key is not None


def column_type(prop: Property, classes: dict[str, ObjectSchema]) -> str:
    """The PostgreSQL type of a property's column."""
    if prop.is_collection:
        return "jsonb"
    if prop.is_link:
        target = classes.get(prop.object_type or "")
        if target is None or target.embedded or target.primary_key is None:
            return "jsonb"  # an embedded object
        return column_type(target.get_property(target.primary_key), classes)
    return SCALAR_COLUMN_TYPES[prop.type]


def type_comment(prop: Property) -> str:
    """Stored as the column's comment: the realm type, so that a realm created
    later from the table gets the exact schema back."""
    return "studio:" + prop.type_string


def realm_property_spec(column: str, data_type: str, comment: str | None) -> str | None:
    """The realm type string of a table column (None: a column the realm cannot hold)."""
    if comment and comment.startswith("studio:"):
        return comment.removeprefix("studio:")
    base = _INFERRED_TYPES.get(data_type)
    if base is None:
        return None
    return base if base == "mixed" else base + "?"


# ---------------------------------------------------------------- realm -> PostgreSQL


def row_of(obj: RealmObject, columns: list[Property], realm_path: str) -> list[Any]:
    """The values of a table row for ``obj``: the realm path, then ``columns``."""
    return [realm_path, *(to_pg(p, obj[p.name]) for p in columns)]


def to_pg(prop: Property, value: Any) -> Any:
    if value is None:
        return None
    if prop.is_collection and prop.is_link:
        return Jsonb(_links_json(value))
    if prop.is_collection or (prop.is_link and isinstance(value, RealmObject)
                              and value.object_schema.embedded):  # fmt: skip
        return Jsonb(to_json(value))
    if prop.is_link:
        return _key_of(value)
    if prop.type == "mixed":
        return Jsonb(to_json(value))
    if prop.type == "objectId":
        return str(value)
    return value


def _key_of(obj: RealmObject) -> Any:
    schema = obj.object_schema
    assert schema.primary_key is not None
    key = obj[schema.primary_key]
    return str(key) if isinstance(key, ObjectId | uuid.UUID) else key


def _links_json(value: Any) -> Any:
    """A collection of links: the targets' primary keys (embedded objects: their values)."""
    def one(obj: Any) -> Any:
        if not isinstance(obj, RealmObject):
            return None
        return to_json(obj) if obj.object_schema.embedded else _key_of(obj)

    if isinstance(value, RealmDictionary):
        return {str(k): one(v) for k, v in value.items()}
    return [one(v) for v in value]


def to_json(value: Any) -> Any:
    """A realm value as JSON: plain JSON where JSON holds it, otherwise tagged
    in the MongoDB Extended JSON style (``{"$oid": ...}``, ``{"$date": ...}``)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$numberDouble": str(value)}
    if isinstance(value, RealmObject):
        schema = value.object_schema
        if schema.embedded:
            return {p.name: to_json(value[p.name]) for p in schema.persisted_properties}
        key = value[schema.primary_key] if schema.primary_key else None
        return {"$link": [schema.name, to_json(key)]}
    if isinstance(value, RealmDictionary):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, RealmList | RealmSet | list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return {"$date": value.astimezone(UTC).isoformat()}
    if isinstance(value, ObjectId):
        return {"$oid": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, Decimal):
        return {"$numberDecimal": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$binary": base64.b64encode(bytes(value)).decode("ascii")}
    raise BadRowError(f"a realm value of type {type(value).__name__} has no JSON form")


# ---------------------------------------------------------------- PostgreSQL -> realm


@dataclass(frozen=True, slots=True)
class LinkTo:
    """A link read from a row: the adapter looks the target up in the realm."""

    class_name: str
    primary_key: Any


def from_pg(prop: Property, value: Any, classes: dict[str, ObjectSchema]) -> Any:
    """A column's value in the change table's JSON image -> the realm value."""
    where = f"column {prop.name!r}"
    if value is None:
        if prop.optional or prop.is_collection or (prop.is_link and prop.collection is None):
            return [] if prop.collection in ("list", "set") else (
                {} if prop.collection == "dictionary" else None)  # fmt: skip
        raise BadRowError(f"{where} is NULL but the realm property {prop.type_string} is required")
    if prop.collection == "dictionary":
        if not isinstance(value, dict):
            raise BadRowError(f"{where}: a dictionary must be a JSON object, not {value!r}")
        return {str(k): _element(prop, v, classes, where) for k, v in value.items()}
    if prop.collection is not None:
        if not isinstance(value, list):
            raise BadRowError(f"{where}: a {prop.collection} must be a JSON array, not {value!r}")
        return [_element(prop, v, classes, where) for v in value]
    return _element(prop, value, classes, where)


def _element(prop: Property, value: Any, classes: dict[str, ObjectSchema], where: str) -> Any:
    if value is None:
        if prop.optional or prop.type == "mixed" or prop.is_link:
            return None
        raise BadRowError(f"{where}: null in a {prop.type_string} that holds no nulls")
    if prop.is_link:
        target = classes.get(prop.object_type or "")
        if target is None:
            raise BadRowError(f"{where}: the realm has no class {prop.object_type!r}")
        if target.embedded:
            return _embedded(target, value, classes, where)
        assert target.primary_key is not None
        key_prop = target.get_property(target.primary_key)
        return LinkTo(target.name, scalar(key_prop.type, value, where))
    if prop.type == "mixed":
        return from_json(value, where)
    return scalar(prop.type, value, where)


def _embedded(
    schema: ObjectSchema, value: Any, classes: dict[str, ObjectSchema], where: str
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRowError(f"{where}: an embedded {schema.name} must be a JSON object, "
                          f"not {value!r}")
    out: dict[str, Any] = {}
    for prop in schema.persisted_properties:
        if prop.name in value:
            out[prop.name] = from_pg(prop, value[prop.name], classes)
    unknown = set(value) - {p.name for p in schema.persisted_properties}
    if unknown:
        raise BadRowError(f"{where}: {schema.name} has no properties {sorted(unknown)}")
    return out


def scalar(type_name: str, value: Any, where: str) -> Any:
    """A JSON scalar (as ``to_jsonb`` writes each column type) -> a realm value."""
    try:
        return _SCALARS[type_name](value)
    except BadRowError:
        raise
    except (ValueError, TypeError, InvalidOperation, KeyError) as exc:
        raise BadRowError(f"{where}: {value!r} is not a {type_name} ({exc})") from None


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise TypeError("a number is needed")
    if isinstance(value, float | Decimal) and value != int(value):
        raise ValueError("not a whole number")
    result = int(value)
    if not INT64_MIN <= result <= INT64_MAX:
        raise ValueError("outside the 64-bit range")
    return result


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("true or false is needed")
    return value


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise TypeError("a number is needed")
    return float(value)  # to_jsonb writes NaN and Infinity as strings


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("text is needed")
    return value


def _data(value: Any) -> bytes:
    text = _string(value)
    if not text.startswith("\\x"):
        raise ValueError("bytea is written as \\x followed by hex digits")
    return bytes.fromhex(text[2:])


def _date(value: Any) -> datetime:
    parsed = datetime.fromisoformat(_string(value))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise TypeError("a number is needed")
    return Decimal(str(value))


_SCALARS: dict[str, Callable[[Any], Any]] = {
    "int": _int, "bool": _bool, "float": _float, "double": _float, "string": _string,
    "data": _data, "date": _date, "objectId": lambda v: ObjectId(_string(v)),
    "uuid": lambda v: uuid.UUID(_string(v)), "decimal128": _decimal,
}  # fmt: skip

_TAGS: dict[str, Callable[[Any], Any]] = {
    "$date": lambda v: _date(v), "$oid": lambda v: ObjectId(_string(v)),
    "$uuid": lambda v: uuid.UUID(_string(v)), "$numberDecimal": lambda v: Decimal(_string(v)),
    "$binary": lambda v: base64.b64decode(_string(v), validate=True),
    "$numberDouble": lambda v: float(_string(v)),
}  # fmt: skip


def from_json(value: Any, where: str) -> Any:
    """A mixed value in its JSON form (see :func:`to_json`) -> the realm value."""
    if value is None or isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, Decimal):  # a JSON number with a fraction (read exactly)
        return float(value)
    if isinstance(value, dict) and len(value) == 1:
        ((tag, body),) = value.items()
        if tag == "$link" and isinstance(body, list) and len(body) == 2:
            return LinkTo(str(body[0]), from_json(body[1], where))
        if tag in _TAGS:
            try:
                return _TAGS[tag](body)
            except (ValueError, TypeError, InvalidOperation) as exc:
                raise BadRowError(f"{where}: {value!r} is not a valid {tag} ({exc})") from None
    raise BadRowError(
        f"{where}: {value!r} cannot be a mixed value (write a number, text, true/false, "
        'or a tagged value such as {"$oid": "..."} or {"$date": "..."})'
    )
