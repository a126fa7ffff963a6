"""Schema objects and the parser of Realm JS's JSON schema form.

A property's type has three parts: its base type (``int``, ``string``, ``object``,
...), an optional collection (``list``, ``set``, ``dictionary``) and whether
values may be null. ``Property.type_string`` writes it back in Realm's short form
(``int?``, ``Person[]``, ``string<>``, ``mixed{}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from studio.core.errors import SchemaError, ValueTypeError
from studio.core.models import is_model, schema_of
from studio.core.property_types import MIXED, PROPERTY_TYPES, SCHEMA_TYPES
from studio.core.values import make_encoder

PRIMITIVE_TYPES: frozenset[str] = frozenset(SCHEMA_TYPES)
_TYPE_ALIASES: dict[str, str] = {name.lower(): name for name in SCHEMA_TYPES}
_TYPE_ALIASES.update(
    {alias: t.name for t in PROPERTY_TYPES.values() for alias in t.schema_aliases}
)
COLLECTIONS: frozenset[str] = frozenset({"list", "set", "dictionary"})
PRIMARY_KEY_TYPES: frozenset[str] = frozenset(
    t.name for t in PROPERTY_TYPES.values() if t.primary_key
)
INDEXABLE_TYPES: frozenset[str] = frozenset(
    {*(t.name for t in PROPERTY_TYPES.values() if t.indexable), MIXED}
)
_SUFFIX = {"list": "[]", "set": "<>", "dictionary": "{}"}


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()
"""A property without a default value."""
_NAME_RE = re.compile(r"^[^\x00-\x1f.:\[\]{}<>?@$]+$")


@dataclass(frozen=True, slots=True)
class Property:
    """One property of an object class.

    ``type`` is the base type: a primitive name, ``"object"`` for links and embedded
    objects, or ``"linkingObjects"`` for computed backlinks. ``collection`` is
    ``None`` or one of ``list``, ``set``, ``dictionary``.

    ``default``: the value ``create`` uses when it is not given (a value, or
    a function called for each object), :data:`NO_DEFAULT` if none. As in
    Realm, defaults belong to the schema an app opens the realm with: they
    are not stored in the file, not synced, and not part of schema equality.
    """

    name: str
    type: str
    collection: str | None = None
    optional: bool = False
    object_type: str | None = None
    origin_property: str | None = None
    indexed: bool = False
    is_primary_key: bool = False
    default: Any = field(default=NO_DEFAULT, compare=False, repr=False)
    fulltext: bool = False
    """``"indexed": "full-text"``: a string property searchable with ``TEXT`` (an FTS5
    table kept by triggers, docs/storage-layout.md); it has no b-tree index."""

    @property
    def is_link(self) -> bool:
        return self.type == "object"

    @property
    def is_backlink(self) -> bool:
        return self.type == "linkingObjects"

    @property
    def is_collection(self) -> bool:
        return self.collection is not None

    @property
    def type_string(self) -> str:
        """Realm's short form: ``int?``, ``Person[]``, ``string<>``, ``mixed{}``."""
        if self.type == "linkingObjects":
            return "linkingObjects"
        base = self.object_type if self.type == "object" else self.type
        assert base is not None
        if self.optional and not (self.type == "object" and self.collection is None):
            base += "?"
        if self.type == "object" and self.collection is None:
            base += "?"
        if self.collection is not None:
            base += _SUFFIX[self.collection]
        return base

    def to_json(self) -> dict[str, Any]:
        """The verbose Realm JS property form, which :func:`parse_property` reads back."""
        out: dict[str, Any] = {"name": self.name}
        if self.type == "linkingObjects":
            out.update(type="linkingObjects", objectType=self.object_type,
                       property=self.origin_property)
            return out
        if self.collection is not None:
            out["type"] = self.collection
            out["objectType"] = self.object_type if self.type == "object" else self.type
        elif self.type == "object":
            out["type"] = "object"
            out["objectType"] = self.object_type
        else:
            out["type"] = self.type
        out["optional"] = self.optional
        if self.indexed:
            out["indexed"] = True
        elif self.fulltext:
            out["indexed"] = "full-text"
        return out


@dataclass(frozen=True, slots=True)
class ObjectSchema:
    """One object class: its name, primary key, whether it is embedded, its properties."""

    name: str
    properties: tuple[Property, ...]
    primary_key: str | None = None
    embedded: bool = False
    _by_name: dict[str, Property] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({p.name: p for p in self.properties})

    def get_property(self, name: str) -> Property:
        try:
            return self._by_name[name]
        except KeyError:
            from studio.core.errors import UnknownPropertyError

            raise UnknownPropertyError(
                f"class {self.name!r} has no property {name!r}; "
                f"its properties are: {', '.join(p.name for p in self.properties)}"
            ) from None

    def get(self, name: str) -> Property | None:
        return self._by_name.get(name)

    @property
    def persisted_properties(self) -> tuple[Property, ...]:
        return tuple(p for p in self.properties if not p.is_backlink)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.primary_key is not None:
            out["primaryKey"] = self.primary_key
        if self.embedded:
            out["embedded"] = True
        out["properties"] = [p.to_json() for p in self.properties]
        return out


def _base_type(name: str, where: str) -> tuple[str, str | None]:
    """Map a type name to (base type, object_type)."""
    alias = _TYPE_ALIASES.get(name.lower())
    if alias is not None:
        return alias, None
    if name in ("object", "list", "set", "dictionary", "linkingObjects"):
        raise SchemaError(f"{where}: {name!r} needs an objectType")
    if not _NAME_RE.match(name):
        raise SchemaError(f"{where}: {name!r} is not a type or a class name")
    return "object", name


def _parse_short(text: str, where: str) -> tuple[str, str | None, str | None, bool]:
    """Parse ``int?``, ``Person[]``, ``string?<>``, ``mixed{}`` into its parts."""
    collection = None
    for coll, suffix in _SUFFIX.items():
        if text.endswith(suffix):
            collection = coll
            text = text[: -len(suffix)]
            break
    optional = text.endswith("?")
    if optional:
        text = text[:-1]
    if not text:
        raise SchemaError(f"{where}: empty type")
    base, object_type = _base_type(text, where)
    return base, object_type, collection, optional


def parse_property(name: str, spec: str | Mapping[str, Any], class_name: str = "?") -> Property:
    """Read one property in any of Realm JS's forms."""
    where = f"property {class_name}.{name}"
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SchemaError(
            f"property name {name!r} of class {class_name!r} is not allowed "
            "(no dots, colons, brackets or control characters)"
        )
    indexed = fulltext = False
    collection: str | None
    if isinstance(spec, str):
        base, object_type, collection, optional = _parse_short(spec, where)
    elif isinstance(spec, Mapping):
        type_name = spec.get("type")
        if not isinstance(type_name, str):
            raise SchemaError(f"{where}: 'type' must be a string, got {type_name!r}")
        indexed_spec = spec.get("indexed", False)
        fulltext = indexed_spec == "full-text"
        if isinstance(indexed_spec, str) and not fulltext:
            raise SchemaError(
                f"{where}: 'indexed' must be true, false or \"full-text\", got {indexed_spec!r}"
            )
        indexed = bool(indexed_spec) and not fulltext
        if type_name == "linkingObjects":
            object_type = spec.get("objectType")
            origin = spec.get("property")
            if not isinstance(object_type, str) or not isinstance(origin, str):
                raise SchemaError(f"{where}: linkingObjects needs 'objectType' and 'property'")
            return Property(name, "linkingObjects", "list", False, object_type, origin)
        if type_name in COLLECTIONS:
            inner = spec.get("objectType")
            if not isinstance(inner, str):
                raise SchemaError(f"{where}: a {type_name} needs 'objectType'")
            base, object_type, _, inner_optional = _parse_short(inner, where)
            collection = type_name
            optional = bool(spec.get("optional", inner_optional))
        elif type_name == "object":
            inner = spec.get("objectType")
            if not isinstance(inner, str):
                raise SchemaError(f"{where}: an object link needs 'objectType'")
            base, object_type = "object", inner.rstrip("?")
            collection, optional = None, True
        else:
            base, object_type, collection, optional = _parse_short(type_name, where)
            if "optional" in spec:
                optional = bool(spec["optional"])
            if base == "object" and collection is None and spec.get("objectType"):
                object_type = str(spec["objectType"])
    else:
        raise SchemaError(f"{where}: expected a type string or an object, got {spec!r}")
    if base == "object" and collection is None:
        optional = True  # to-one links are always optional
    if base == "object" and collection in ("list", "set"):
        optional = False
    if base == "mixed":
        optional = True
    prop = Property(name, base, collection, optional, object_type, None, indexed)
    if fulltext:
        if base != "string" or collection is not None:
            raise SchemaError(
                f"{where}: only a string property can be full-text indexed, not "
                f"{prop.type_string}"
            )
        prop = replace(prop, fulltext=True)
    if isinstance(spec, Mapping) and "default" in spec:
        prop = replace(prop, default=_checked_default(prop, spec["default"], where))
    return prop


def _checked_default(prop: Property, value: Any, where: str) -> Any:
    if prop.collection is not None or prop.type in ("object", "linkingObjects"):
        raise SchemaError(
            f"{where}: only properties of a primitive type (not links, embedded objects "
            "or collections) can have a default value"
        )
    if callable(value):
        return value  # checked like any given value when create() calls it
    try:
        make_encoder(prop.type, prop.optional)(value)
    except (ValueTypeError, TypeError, ValueError) as exc:
        raise SchemaError(f"{where}: the default value {value!r} does not fit: {exc}") from None
    return value


def _one_of(names: frozenset[str]) -> str:
    ordered = [n for n in PROPERTY_TYPES if n in names]
    return ", ".join(ordered[:-1]) + " or " + ordered[-1]


def parse_object_schema(spec: Mapping[str, Any]) -> ObjectSchema:
    """Read one class in Realm JS's form (properties as a dict or a list)."""
    if not isinstance(spec, Mapping):
        raise SchemaError(f"a class schema must be an object, got {spec!r}")
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SchemaError(f"class name {name!r} is not allowed (a non-empty string without dots)")
    raw_props = spec.get("properties", {})
    items: list[tuple[str, Any]] = []
    if isinstance(raw_props, Mapping):
        items = list(raw_props.items())
    elif isinstance(raw_props, list):
        for entry in raw_props:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                raise SchemaError(f"class {name}: each listed property needs a 'name': {entry!r}")
            body = {k: v for k, v in entry.items() if k != "name"}
            if "type" not in body and "objectType" in body:
                body["type"] = "object"
            items.append((entry["name"], body))
    else:
        raise SchemaError(f"class {name}: 'properties' must be an object or a list")
    primary_key = spec.get("primaryKey")
    embedded = bool(spec.get("embedded", False))
    props: list[Property] = []
    seen: set[str] = set()
    for prop_name, prop_spec in items:
        prop = parse_property(prop_name, prop_spec, name)
        if prop.name in seen:
            raise SchemaError(f"class {name}: property {prop.name!r} is defined twice")
        seen.add(prop.name)
        if prop_name == primary_key:
            prop = replace(prop, is_primary_key=True, indexed=True)
        props.append(prop)
    if primary_key is not None:
        if embedded:
            raise SchemaError(f"class {name}: embedded classes cannot have a primary key")
        pk = next((p for p in props if p.name == primary_key), None)
        if pk is None:
            raise SchemaError(f"class {name}: primary key {primary_key!r} is not a property")
        if pk.type not in PRIMARY_KEY_TYPES or pk.collection is not None:
            raise SchemaError(
                f"class {name}: primary key {primary_key!r} has type {pk.type_string}; "
                f"it must be {_one_of(PRIMARY_KEY_TYPES)} (optional allowed)"
            )
    for prop in props:
        if prop.indexed and (prop.type not in INDEXABLE_TYPES or prop.collection is not None):
            raise SchemaError(
                f"property {name}.{prop.name}: type {prop.type_string} cannot be indexed"
            )
    return ObjectSchema(name, tuple(props), primary_key, embedded)


def parse_schema(
    spec: Iterable[Mapping[str, Any] | ObjectSchema | type] | str,
) -> list[ObjectSchema]:
    """Read a whole schema (a list of classes: JSON forms, ObjectSchemas or
    :class:`~studio.core.models.Model` subclasses; or JSON text) and check
    cross references."""
    entries: Any = spec
    if isinstance(spec, str):
        entries = json.loads(spec)
        if isinstance(entries, Mapping):
            entries = entries.get("schema", [entries])
    classes: list[ObjectSchema] = []
    for entry in entries:
        if is_model(entry):
            entry = schema_of(entry)
        classes.append(entry if isinstance(entry, ObjectSchema) else parse_object_schema(entry))
    validate_schema(classes)
    return classes


def validate_schema(classes: Sequence[ObjectSchema]) -> None:
    by_name: dict[str, ObjectSchema] = {}
    for cls in classes:
        if cls.name in by_name:
            raise SchemaError(f"class {cls.name!r} is defined twice")
        by_name[cls.name] = cls
    for cls in classes:
        for prop in cls.properties:
            if prop.type not in ("object", "linkingObjects"):
                continue
            target = by_name.get(prop.object_type or "")
            if target is None:
                raise SchemaError(
                    f"property {cls.name}.{prop.name} refers to class {prop.object_type!r}, "
                    "which is not in the schema"
                )
            if prop.is_backlink:
                origin = target.get(prop.origin_property or "")
                if origin is None or origin.type != "object" or origin.object_type != cls.name:
                    raise SchemaError(
                        f"property {cls.name}.{prop.name}: {prop.object_type}."
                        f"{prop.origin_property} is not a link to {cls.name}"
                    )
            elif target.embedded and prop.collection == "set":
                raise SchemaError(
                    f"property {cls.name}.{prop.name}: sets of embedded objects are not allowed"
                )
