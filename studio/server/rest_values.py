"""The REST API's values: JSON (the plain form of the Studio's JSON export,
studio.core.export_files) to the values of sync instructions, and the
instructions a REST write becomes.

The schema is the realm's :class:`SchemaIndex` (the one every upload is
checked against), so a REST write is refused or accepted exactly as the
same change from a device would be; the upload check runs on the result
anyway (rest_api.py).
"""

from __future__ import annotations

import math
from typing import Any, Final

from studio.core.errors import BadValueError
from studio.core.property_types import PROPERTY_TYPES
from studio.primitives.instructions import (
    EMBEDDED,
    Clear,
    CreateObject,
    DictSet,
    EraseObject,
    Instruction,
    Link,
    ListInsert,
    Set,
    SetInsert,
)
from studio.server.errors import BadRequest
from studio.sync.upload_check import ClassInfo, PropertyInfo, SchemaIndex

_FLOATS: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_TEXT_TYPES: Final = frozenset({"data", "date", "objectId", "uuid", "decimal128"})
"""Types whose JSON form is a string read with the type's text parser."""

MAX_PRIMARY_KEY_CHARS: Final = 1024


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _scalar(base: str, value: Any, what: str) -> Any:
    """One non-null value of primitive type ``base`` from its JSON form."""
    wrong = BadRequest(f"{what} is a {base}; got {_kind(value)}")
    if base == "mixed":
        if isinstance(value, bool | int | float | str):
            return value
        raise BadRequest(f"{what} is mixed: send a string, number or boolean; got {_kind(value)}")
    if base == "bool":
        if not isinstance(value, bool):
            raise wrong
        return value
    if base == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise wrong
        if not -(2**63) <= value < 2**63:
            raise BadRequest(f"{what} is a 64-bit int; {value} is out of range")
        return value
    if base in ("float", "double"):
        if isinstance(value, str) and value in _FLOATS:
            return _FLOATS[value]
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise BadRequest(f"{what} is a {base}: a number, or NaN/Infinity/-Infinity as a string")
        return float(value)
    if base == "string":
        if not isinstance(value, str):
            raise wrong
        return value
    if base in _TEXT_TYPES:
        if not isinstance(value, str):
            raise BadRequest(f"{what} is a {base}, written as a string; got {_kind(value)}")
        try:
            return PROPERTY_TYPES[base].parse(value)
        except (BadValueError, ValueError) as exc:
            raise BadRequest(f"{what}: {exc}") from None
    raise BadRequest(f"{what} has type {base}, which the REST API cannot write")


def primary_key_value(info: ClassInfo, value: Any, what: str) -> Any:
    """A primary key of class ``info`` from its JSON form."""
    if value is None:
        if info.pk_nullable:
            return None
        raise BadRequest(f"{what} may not be null ({info.name}'s primary key is {info.pk_type})")
    definition = info.definition
    assert definition.primary_key_type is not None
    return _scalar(definition.primary_key_type, value, what)


def primary_key_from_text(info: ClassInfo, text: str) -> Any:
    """A primary key of class ``info`` as written in a URL."""
    definition = info.definition
    if definition.primary_key is None or definition.primary_key_type is None:
        raise BadRequest(
            f"{info.name} has no primary key; the REST API addresses objects by primary key"
        )
    if len(text) > MAX_PRIMARY_KEY_CHARS:
        raise BadRequest(f"the primary key is longer than {MAX_PRIMARY_KEY_CHARS} characters")
    base = definition.primary_key_type
    if base == "string":
        return text
    try:
        return PROPERTY_TYPES[base].parse(text)
    except (BadValueError, ValueError, KeyError) as exc:
        raise BadRequest(f"the primary key of {info.name} is a {base}: {exc}") from None


def property_value(
    schema: SchemaIndex, prop: PropertyInfo, value: Any, *, element: bool = False
) -> Any:
    """The instruction value for writing ``value`` (JSON) to ``prop`` (to
    one element of it with ``element``)."""
    what = f"{prop.class_name}.{prop.name}"
    if value is None:
        if not (prop.element_nullable if element else prop.nullable):
            raise BadRequest(f"{what} may not {'hold ' if element else 'be '}null")
        return None
    if prop.base == "object":
        target = schema.classes.get(prop.object_type or "")
        if target is None or target.embedded or target.definition.primary_key is None:
            raise BadRequest(
                f"{what} links to {prop.object_type}, which has no primary key to link by"
            )
        return Link(target.name, primary_key_value(target, value, f"the link {what}"))
    return _scalar(prop.base, value, what)


Path = tuple[str | int, ...]


def _embedded_class(schema: SchemaIndex, prop: PropertyInfo) -> ClassInfo | None:
    """The embedded class ``prop`` holds objects of, or None."""
    if prop.base != "object":
        return None
    target = schema.classes.get(prop.object_type or "")
    return target if target is not None and target.embedded else None


def _embedded(
    schema: SchemaIndex, target: ClassInfo, cls: str, pk: Any, path: Path, value: Any, what: str
) -> list[Instruction]:
    """The fields of a new embedded object at ``path`` (created by the caller's
    instruction), from its JSON object."""
    if not isinstance(value, dict):
        raise BadRequest(f"{what} holds an embedded {target.name}: send a JSON object; "
                         f"got {_kind(value)}")  # fmt: skip
    return _sets(schema, target, cls, pk, value, path)


def _write(
    schema: SchemaIndex, prop: PropertyInfo, cls: str, pk: Any, path: Path, value: Any
) -> list[Instruction]:
    """The instructions that write ``value`` to ``prop`` at ``path`` of the
    top-level object ``(cls, pk)``."""
    if prop.collection is not None:
        return _collection(schema, prop, cls, pk, path, value)
    target = _embedded_class(schema, prop)
    if target is None or value is None:
        return [Set(cls, pk, path, property_value(schema, prop, value))]
    what = f"{prop.class_name}.{prop.name}"
    return [Set(cls, pk, path, EMBEDDED), *_embedded(schema, target, cls, pk, path, value, what)]


def _element(
    schema: SchemaIndex, prop: PropertyInfo, cls: str, pk: Any, path: Path, item: Any
) -> tuple[Any, list[Instruction]]:
    """A collection element's instruction value, and the instructions that fill it
    (an embedded object's fields, at ``path``: the element's own path)."""
    target = _embedded_class(schema, prop)
    if target is None or item is None:
        return property_value(schema, prop, item, element=True), []
    what = f"{prop.class_name}.{prop.name}"
    return EMBEDDED, _embedded(schema, target, cls, pk, path, item, what)


def _collection(
    schema: SchemaIndex, prop: PropertyInfo, cls: str, pk: Any, path: Path, value: Any
) -> list[Instruction]:
    """Replace the whole collection: Clear, then its elements (as a device's
    assignment of a new list does)."""
    what = f"{prop.class_name}.{prop.name}"
    out: list[Instruction] = [Clear(cls, pk, path)]
    if prop.collection == "dictionary":
        if not isinstance(value, dict):
            raise BadRequest(f"{what} is a dictionary: send a JSON object; got {_kind(value)}")
        for key, item in value.items():
            if not key or key.startswith("$") or "." in key:
                raise BadRequest(f"{what}: a key may not be empty, start with $ or hold a dot")
            element, fill = _element(schema, prop, cls, pk, (*path, key), item)
            out += [DictSet(cls, pk, path, key, element), *fill]
        return out
    if not isinstance(value, list):
        raise BadRequest(f"{what} is a {prop.collection}: send a JSON array; got {_kind(value)}")
    if prop.collection == "set":
        items = [property_value(schema, prop, item, element=True) for item in value]
        return out + [SetInsert(cls, pk, path, item) for item in items]
    for index, item in enumerate(value):
        element, fill = _element(schema, prop, cls, pk, (*path, index), item)
        out += [ListInsert(cls, pk, path, index, element), *fill]
    return out


def _sets(
    schema: SchemaIndex, info: ClassInfo, cls: str, pk: Any, body: dict[str, Any], prefix: Path
) -> list[Instruction]:
    """Write the properties of ``body`` to the object of class ``info`` at ``prefix``
    (``()``: the top-level object ``(cls, pk)`` itself; else an embedded object in it)."""
    out: list[Instruction] = []
    for name, value in body.items():
        prop = info.properties.get(name)
        if prop is None or prop.base == "linkingObjects":
            raise BadRequest(f"{info.name} has no property {name[:100]!r} to write")
        if prop.is_primary_key:
            continue  # checked by the caller
        out += _write(schema, prop, cls, pk, (*prefix, name), value)
    return out


def create_instructions(
    schema: SchemaIndex, info: ClassInfo, body: dict[str, Any]
) -> tuple[Any, list[Instruction]]:
    """The primary key and the instructions that create an object from ``body``."""
    pk_name = info.definition.primary_key
    if pk_name is None:
        raise BadRequest(
            f"{info.name} has no primary key; the REST API creates only objects with one"
        )
    if pk_name not in body and not info.pk_nullable:
        raise BadRequest(f"the body must give {info.name}'s primary key {pk_name!r}")
    pk = primary_key_value(info, body.get(pk_name), f"{info.name}.{pk_name}")
    return pk, [CreateObject(info.name, pk), *_sets(schema, info, info.name, pk, body, ())]


def update_instructions(
    schema: SchemaIndex, info: ClassInfo, pk: Any, body: dict[str, Any]
) -> list[Instruction]:
    """The instructions that set the properties in ``body`` (PATCH)."""
    pk_name = info.definition.primary_key
    if pk_name in body:
        given = primary_key_value(info, body[pk_name], f"{info.name}.{pk_name}")
        if given != pk:
            raise BadRequest(f"the primary key {pk_name!r} cannot be changed")
    return _sets(schema, info, info.name, pk, body, ())


def erase_instructions(info: ClassInfo, pk: Any) -> list[Instruction]:
    return [EraseObject(info.name, pk)]
