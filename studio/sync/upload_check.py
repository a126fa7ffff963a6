"""Does an upload fit the realm's schema? A pure check, run before storing.

The decoder (:mod:`studio.sync.changeset.decode`) only knows that a
changeset is well formed. A well-formed changeset can still create an object
of a class that does not exist, put a string into an int property, insert
into a property that is not a list, or use a primary key of the wrong type;
stored, it would make every replica that applies it fail for ever. This
module checks every instruction of an upload against the realm's schema:

* the schema as of the latest server version (:class:`SchemaIndex`, built
  from the history's AddClass/AddProperty instructions and kept up to date
  as changesets are appended), plus
* the upload's own AddClass/AddProperty, in order (on a copy: a refused
  upload leaves the index as it was).

What is checked, per instruction: the class exists and is top-level (an
embedded object is addressed by a path from its parent), the primary key has
the class's type; each path step names a property of the class it is in (or
an index/key of a list/dictionary), only embedded objects are stepped into;
the instruction fits the kind of what the path reaches (Set on a field or a
collection element, ListInsert on a list, SetInsert on a set, DictSet on a
dictionary, Clear on any collection, AddInteger on an int or mixed); a value
has the property's type, null only where it is nullable, a link targets the
property's class with that class's primary-key type, EMBEDDED only where an
embedded object belongs. Schema instructions must agree with what exists
(synced schema changes are additive) and name known types.

Also, optionally, the timestamp rule (docs/sync.md, "Timestamps"): a
changeset stamped more than ``max_clock_skew_ms`` after ``now_ms`` is refused.

Sans-I/O: no clock reads (``now_ms`` is given), no asyncio. Errors are
:class:`~studio.sync.errors.SchemaViolationError`,
:class:`~studio.sync.errors.MergeError` (schema conflicts) and
:class:`~studio.sync.errors.ClockSkewError`, each naming the changeset, the
instruction and what was expected.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from studio.core.describe import describe
from studio.core.errors import SchemaError
from studio.core.schema import PRIMARY_KEY_TYPES, parse_property
from studio.primitives.instructions import (
    EMBEDDED,
    AddClass,
    AddInteger,
    AddProperty,
    Changeset,
    Clear,
    CreateObject,
    DictErase,
    DictSet,
    EraseObject,
    Instruction,
    Link,
    ListErase,
    ListInsert,
    ListMove,
    ListSet,
    SetErase,
    SetInsert,
)
from studio.primitives.instructions import Set as SetValue
from studio.primitives.objectid import ObjectId
from studio.sync.errors import ClockSkewError, MergeError, SchemaViolationError

__all__ = [
    "ClassInfo",
    "PropertyInfo",
    "SchemaIndex",
    "check_changesets",
    "check_object_instruction",
]

# Python types of instruction values per primitive type (as the core accepts
# them: an int is a valid double or decimal).
_ACCEPTS: Final[dict[str, frozenset[type]]] = {
    "bool": frozenset({bool}),
    "int": frozenset({int}),
    "float": frozenset({float, int}),
    "double": frozenset({float, int}),
    "string": frozenset({str}),
    "data": frozenset({bytes}),
    "date": frozenset({datetime}),
    "objectId": frozenset({ObjectId}),
    "uuid": frozenset({uuid.UUID}),
    "decimal128": frozenset({Decimal, int}),
}
_MIXED: Final = frozenset(
    {bool, int, float, str, bytes, datetime, ObjectId, uuid.UUID, Decimal}
)
_PK_ACCEPTS: Final[dict[str, frozenset[type]]] = {
    "int": frozenset({int}),
    "string": frozenset({str}),
    "objectId": frozenset({ObjectId}),
    "uuid": frozenset({uuid.UUID}),
}

# What a path reaches: the property itself, or one element of its collection.
_FIELD: Final = 0
_ELEMENT: Final = 1


class PropertyInfo:
    """One property, in the form the check needs."""

    __slots__ = (
        "accepts",
        "base",
        "class_name",
        "collection",
        "definition",
        "element_nullable",
        "is_primary_key",
        "name",
        "nullable",
        "object_type",
        "plain",
        "type_string",
    )

    def __init__(
        self,
        class_name: str,
        name: str,
        base: str,
        collection: str | None,
        nullable: bool,
        object_type: str | None,
        type_string: str,
        definition: AddProperty | None,
        *,
        is_primary_key: bool = False,
    ) -> None:
        self.class_name = class_name
        self.name = name
        self.base = base
        self.collection = collection
        self.nullable = nullable
        # Dictionary values may always be null for links (erasing the target
        # nulls them, as in Realm); otherwise elements follow the property.
        self.element_nullable = nullable or (collection == "dictionary" and base == "object")
        self.object_type = object_type
        self.type_string = type_string
        self.definition = definition
        self.is_primary_key = is_primary_key
        self.accepts: frozenset[type] | None = _ACCEPTS.get(base)
        """Python types of a value of a primitive property (None otherwise)."""
        self.plain: frozenset[type] = (
            self.accepts
            if self.accepts is not None and collection is None and not is_primary_key
            else frozenset()
        )
        """:attr:`accepts` of a single primitive value that a Set may write
        (the fast path of the check)."""


class ClassInfo:
    """One class: its definition and its properties (primary key included)."""

    __slots__ = ("definition", "embedded", "name", "pk_accepts", "pk_nullable", "properties")

    def __init__(self, definition: AddClass) -> None:
        self.definition = definition
        self.name = definition.class_name
        self.embedded = definition.embedded
        self.properties: dict[str, PropertyInfo] = {}
        pk = definition.primary_key
        self.pk_nullable = pk is None or definition.primary_key_optional
        self.pk_accepts: frozenset[type] = frozenset()
        if pk is not None and definition.primary_key_type is not None:
            self.pk_accepts = _PK_ACCEPTS.get(definition.primary_key_type, frozenset())
            suffix = "?" if definition.primary_key_optional else ""
            self.properties[pk] = PropertyInfo(
                self.name,
                pk,
                definition.primary_key_type,
                None,
                definition.primary_key_optional,
                None,
                definition.primary_key_type + suffix,
                None,
                is_primary_key=True,
            )

    def copy(self) -> ClassInfo:
        clone = ClassInfo.__new__(ClassInfo)
        clone.definition, clone.name, clone.embedded = self.definition, self.name, self.embedded
        clone.pk_nullable, clone.pk_accepts = self.pk_nullable, self.pk_accepts
        clone.properties = dict(self.properties)
        return clone

    @property
    def pk_type(self) -> str:
        d = self.definition
        if d.primary_key is None:
            return "none (its objects are addressed with null)"
        return f"{d.primary_key_type}{'?' if d.primary_key_optional else ''}"


class SchemaIndex:
    """A realm's schema as the sum of its AddClass/AddProperty instructions.

    :meth:`add` takes schema instructions that are already known to fit
    (from the history); :func:`check_changesets` checks new ones on a copy.
    """

    def __init__(self) -> None:
        self.classes: dict[str, ClassInfo] = {}

    @classmethod
    def from_changesets(cls, changesets: Iterable[Changeset]) -> SchemaIndex:
        index = cls()
        for changeset in changesets:
            index.add_instructions(changeset.instructions)
        return index

    def add_instructions(self, instructions: Iterable[Instruction]) -> None:
        """Take in the schema instructions among ``instructions`` (others are skipped)."""
        for ins in instructions:
            t = type(ins)
            if t is AddClass or t is AddProperty:
                self.add(ins)  # type: ignore[arg-type]

    def add(self, ins: AddClass | AddProperty) -> None:
        """Record one schema instruction without checking it (it was checked
        when it was uploaded; an unparsable one is skipped)."""
        if isinstance(ins, AddClass):
            if ins.class_name not in self.classes:
                self.classes[ins.class_name] = ClassInfo(ins)
            return
        info = self.classes.get(ins.class_name)
        if info is None or ins.name in info.properties:
            return
        try:
            info.properties[ins.name] = _property_info(ins)
        except SchemaError:
            return

    def copy(self) -> SchemaIndex:
        """A copy that can take an upload's schema instructions (classes are
        copied when first changed, see :func:`check_changesets`)."""
        clone = SchemaIndex()
        clone.classes = dict(self.classes)
        return clone


def _property_info(ins: AddProperty) -> PropertyInfo:
    if ins.type == "linkingObjects":
        return PropertyInfo(
            ins.class_name, ins.name, "linkingObjects", "list", False, ins.object_type,
            "linkingObjects", ins,
        )
    prop = parse_property(ins.name, ins.type, ins.class_name)
    return PropertyInfo(
        ins.class_name, ins.name, prop.type, prop.collection, prop.optional, prop.object_type,
        ins.type, ins,
    )


# --------------------------------------------------------------------------- the check


class _Reject(Exception):
    """Internal: why one instruction does not fit (wrapped with its place)."""

    def __init__(self, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.conflict = conflict


def check_changesets(
    schema: SchemaIndex,
    changesets: Sequence[Changeset],
    *,
    now_ms: int | None = None,
    max_clock_skew_ms: int | None = None,
) -> SchemaIndex:
    """Check an upload against ``schema`` (the realm's schema as of its
    latest version); raise on the first instruction that does not fit.

    Returns the schema with the upload's own AddClass/AddProperty (``schema``
    itself when it has none; ``schema`` is never changed). With ``now_ms``
    and ``max_clock_skew_ms``, a changeset stamped more than the skew after
    ``now_ms`` is refused (:class:`ClockSkewError`).
    """
    current = schema
    for changeset in changesets:
        if (
            now_ms is not None
            and max_clock_skew_ms is not None
            and changeset.timestamp_ms > now_ms + max_clock_skew_ms
        ):
            ahead = (changeset.timestamp_ms - now_ms) / 1000
            raise ClockSkewError(
                f"changeset {changeset.client_version} is stamped {ahead:.0f} s ahead of the "
                f"server's clock (timestamp {changeset.timestamp_ms} ms, server "
                f"{now_ms} ms, at most {max_clock_skew_ms / 1000:g} s allowed): nothing of the "
                "upload was stored; set the device's clock right"
            )
        classes = current.classes
        for ins in changeset.instructions:
            t = type(ins)
            # The fast path, for what most uploads are made of: a CreateObject
            # or a Set of a single primitive field, of a class that fits (an
            # embedded class has no primary key types: never fast).
            if t is SetValue:
                info = classes.get(ins.class_name)
                path = ins.path  # type: ignore[union-attr]
                if (
                    info is not None
                    and type(ins.primary_key) in info.pk_accepts  # type: ignore[union-attr]
                    and len(path) == 1
                ):
                    prop = info.properties.get(path[0])  # type: ignore[arg-type]
                    if prop is not None and type(ins.value) in prop.plain:  # type: ignore[union-attr]
                        continue
            elif t is CreateObject:
                info = classes.get(ins.class_name)
                if info is not None and type(ins.primary_key) in info.pk_accepts:  # type: ignore[union-attr]
                    continue
            try:
                if t is AddClass or t is AddProperty:
                    if current is schema:
                        current = schema.copy()
                        classes = current.classes
                    _check_schema_instruction(current, ins)  # type: ignore[arg-type]
                else:
                    _check_object_instruction(current, ins)
            except _Reject as exc:
                n = next(i for i, x in enumerate(changeset.instructions) if x is ins)
                where = f"changeset {changeset.client_version}, instruction {n} ({describe(ins)})"
                message = f"upload refused, {where}: {exc.message}; nothing of it was stored"
                if exc.conflict:
                    raise MergeError(message) from None
                raise SchemaViolationError(message) from None
    if current is not schema:
        _check_link_targets(current, schema)
    return current


def check_object_instruction(schema: SchemaIndex, instruction: Instruction) -> None:
    """The full check of one instruction that is not a schema instruction
    (no fast path), raising :class:`SchemaViolationError` with what is wrong."""
    try:
        _check_object_instruction(schema, instruction)
    except _Reject as exc:
        raise SchemaViolationError(exc.message) from None


def _check_link_targets(current: SchemaIndex, before: SchemaIndex) -> None:
    """New link properties must target existing classes (checked once the
    whole upload is read: classes and properties may come in any order)."""
    for name, info in current.classes.items():
        old = before.classes.get(name)
        for prop in info.properties.values():
            if old is not None and prop.name in old.properties:
                continue
            if prop.base in ("object", "linkingObjects"):
                target = current.classes.get(prop.object_type or "")
                if target is None:
                    raise SchemaViolationError(
                        f"upload refused: property {name}.{prop.name} ({prop.type_string}) "
                        f"links to class {prop.object_type!r}, which does not exist; nothing "
                        "of it was stored"
                    )
                if prop.base == "linkingObjects":
                    origin = target.properties.get(prop.definition.origin_property or "")  # type: ignore[union-attr]
                    if origin is None or origin.base != "object" or origin.object_type != name:
                        raise SchemaViolationError(
                            f"upload refused: property {name}.{prop.name} is linkingObjects "
                            f"of {prop.object_type}.{prop.definition.origin_property}, "  # type: ignore[union-attr]
                            f"which is not a link to {name}; nothing of it was stored"
                        )


def _check_schema_instruction(schema: SchemaIndex, ins: AddClass | AddProperty) -> None:
    if isinstance(ins, AddClass):
        old = schema.classes.get(ins.class_name)
        if old is not None:
            if old.definition != ins:
                raise _Reject(
                    f"class {ins.class_name} already exists as {describe(old.definition)}; "
                    "synced schema changes must be additive",
                    conflict=True,
                )
            return
        if ins.primary_key is not None:
            if ins.embedded:
                raise _Reject(f"embedded class {ins.class_name} cannot have a primary key")
            if ins.primary_key_type not in PRIMARY_KEY_TYPES:
                raise _Reject(
                    f"primary key type {ins.primary_key_type!r} of {ins.class_name} is not "
                    f"one of {', '.join(sorted(PRIMARY_KEY_TYPES))}"
                )
        schema.classes[ins.class_name] = ClassInfo(ins)
        return
    info = schema.classes.get(ins.class_name)
    if info is None:
        raise _Reject(f"class {ins.class_name} does not exist (AddClass it first)")
    old_prop = info.properties.get(ins.name)
    if old_prop is not None:
        if old_prop.definition != ins:
            raise _Reject(
                f"property {ins.class_name}.{ins.name} already exists as "
                f"{old_prop.type_string}; synced schema changes must be additive",
                conflict=True,
            )
        return
    try:
        prop = _property_info(ins)
    except SchemaError as exc:
        raise _Reject(f"type {ins.type!r} cannot be read: {exc}") from None
    if prop.base == "linkingObjects" and not ins.origin_property:
        raise _Reject(f"linkingObjects property {ins.class_name}.{ins.name} needs an origin")
    info = schema.classes[ins.class_name] = info.copy()
    info.properties[ins.name] = prop


def _class_of(schema: SchemaIndex, ins: Any) -> ClassInfo:
    info = schema.classes.get(ins.class_name)
    if info is None:
        raise _Reject(f"class {ins.class_name} does not exist in the realm's schema")
    if info.embedded:
        raise _Reject(
            f"{ins.class_name} is an embedded class: its objects are reached through a "
            "path from their parent, not by primary key"
        )
    pk = ins.primary_key
    if type(pk) not in info.pk_accepts and not (pk is None and info.pk_nullable):
        raise _Reject(
            f"primary key {pk!r} ({type(pk).__name__}) does not fit {ins.class_name}, "
            f"whose primary key is {info.pk_type}"
        )
    return info


def _resolve(
    schema: SchemaIndex, info: ClassInfo, path: tuple[Any, ...]
) -> tuple[PropertyInfo, int]:
    """The property a path reaches, and whether it is the property itself
    (``_FIELD``) or one element of its collection (``_ELEMENT``)."""
    i, n = 0, len(path)
    while True:
        name = path[i]
        if type(name) is not str:
            raise _Reject(f"path step {i} is index {name}, but {info.name} has properties here")
        prop = info.properties.get(name)
        if prop is None:
            raise _Reject(f"class {info.name} has no property {name!r}")
        i += 1
        if i == n:
            return prop, _FIELD
        collection = prop.collection
        if collection is not None:
            step = path[i]
            if collection == "list":
                if type(step) is not int:
                    raise _Reject(f"{info.name}.{name} is a list: path step {i} must be an index")
            elif collection == "dictionary":
                if type(step) is not str:
                    raise _Reject(
                        f"{info.name}.{name} is a dictionary: path step {i} must be a key"
                    )
            else:
                raise _Reject(f"{info.name}.{name} is a {collection}: a path cannot go into it")
            i += 1
            if i == n:
                return prop, _ELEMENT
        target = schema.classes.get(prop.object_type or "") if prop.base == "object" else None
        if target is None or not target.embedded:
            raise _Reject(
                f"{info.name}.{name} is {prop.type_string}: a path can only go into "
                "embedded objects"
            )
        info = target


def _check_value(
    schema: SchemaIndex, prop: PropertyInfo, value: Any, nullable: bool, what: str
) -> None:
    accepts = prop.accepts
    t = type(value)
    if accepts is not None and t in accepts:
        return
    if value is None:
        if nullable:
            return
        raise _Reject(f"{what} is {prop.type_string}, not nullable: null is not allowed")
    base = prop.base
    if value is EMBEDDED:
        if base == "object":
            target = schema.classes.get(prop.object_type or "")
            if target is not None and target.embedded:
                return
        raise _Reject(f"{what} is {prop.type_string}: it does not hold an embedded object")
    if t is Link:
        if base == "mixed" or (base == "object" and value.class_name == prop.object_type):
            target = schema.classes.get(value.class_name)
            if target is None:
                raise _Reject(f"{what} links to class {value.class_name}, which does not exist")
            if target.embedded:
                raise _Reject(f"{what} links to {value.class_name}, an embedded class")
            pk = value.primary_key
            if type(pk) not in target.pk_accepts and not (pk is None and target.pk_nullable):
                raise _Reject(
                    f"{what} links to {value.class_name}[{pk!r}], but the primary key of "
                    f"{value.class_name} is {target.pk_type}"
                )
            return
        raise _Reject(
            f"{what} is {prop.type_string}: a link to {value.class_name} does not fit"
        )
    if base == "mixed" and t in _MIXED:
        return
    if accepts is not None and any(isinstance(value, a) for a in accepts) and t is not bool:
        return  # a subclass (e.g. of datetime)
    expected = f"a link to {prop.object_type}" if base == "object" else f"a {base}"
    raise _Reject(
        f"{what} is {prop.type_string}: expected {expected}, got {t.__name__} {value!r:.60}"
    )


def _wrong_kind(prop: PropertyInfo, wanted: str) -> _Reject:
    return _Reject(
        f"{prop.class_name}.{prop.name} is {prop.type_string}, not a {wanted}"
        + ("" if prop.collection else " (a single value)")
    )


def _check_object_instruction(schema: SchemaIndex, ins: Instruction) -> None:
    info = _class_of(schema, ins)
    t = type(ins)
    if t is CreateObject or t is EraseObject:
        return
    path = ins.path  # type: ignore[union-attr]
    if not path:
        raise _Reject("the path is empty")
    prop, where = _resolve(schema, info, path)
    what = f"{prop.class_name}.{prop.name}"
    if prop.base == "linkingObjects":
        raise _Reject(f"{what} is computed (linkingObjects): it cannot be written")
    if t is SetValue:
        if where == _FIELD:
            if prop.collection is not None:
                raise _Reject(
                    f"{what} is a {prop.collection} ({prop.type_string}): Set cannot replace "
                    f"it; use the {prop.collection} instructions"
                )
            if prop.is_primary_key:
                raise _Reject(f"{what} is the primary key: it cannot be changed")
            _check_value(schema, prop, ins.value, prop.nullable, what)  # type: ignore[union-attr]
        else:
            _check_value(schema, prop, ins.value, prop.element_nullable, what + " element")  # type: ignore[union-attr]
        return
    if t is AddInteger:
        if (where == _FIELD and prop.collection is not None) or prop.base not in ("int", "mixed"):
            raise _Reject(f"{what} is {prop.type_string}: AddInteger needs an int")
        if prop.is_primary_key:
            raise _Reject(f"{what} is the primary key: it cannot be changed")
        return
    if where != _FIELD:
        raise _Reject(
            f"{what}: the path reaches one element, but {t.__name__} needs the collection"
        )
    if t is ListInsert or t is ListSet:
        if prop.collection != "list":
            raise _wrong_kind(prop, "list")
        _check_value(schema, prop, ins.value, prop.element_nullable, what + " element")  # type: ignore[union-attr]
    elif t is ListErase or t is ListMove:
        if prop.collection != "list":
            raise _wrong_kind(prop, "list")
    elif t is SetInsert or t is SetErase:
        if prop.collection != "set":
            raise _wrong_kind(prop, "set")
        _check_value(schema, prop, ins.value, prop.element_nullable, what + " element")  # type: ignore[union-attr]
    elif t is DictSet:
        if prop.collection != "dictionary":
            raise _wrong_kind(prop, "dictionary")
        _check_value(schema, prop, ins.value, prop.element_nullable, what + " value")  # type: ignore[union-attr]
    elif t is DictErase:
        if prop.collection != "dictionary":
            raise _wrong_kind(prop, "dictionary")
    elif t is Clear and prop.collection is None:
        raise _Reject(f"{what} is {prop.type_string}, not a collection: Clear needs one")
