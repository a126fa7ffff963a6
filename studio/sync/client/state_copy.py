"""Making one realm's objects equal to another's, changing only what differs.

A client reset downloads a fresh copy of the server's realm into a file of its
own and then makes the app's open realm equal to it (``copy_state``), inside
one write transaction. Objects that are equal in both stay untouched (the
app's object handles, open Results and listeners keep working and see only
what really changed); objects the fresh copy lacks are deleted; the others
are created or updated property by property.

Values are compared as *plain* values (``plain_value``): a link is the target's
class and primary key, an embedded object the plain values of its properties,
numbers and booleans by exact identity (``1``, ``True`` and ``1.0`` differ).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from studio.core.collections import RealmDictionary, RealmList, RealmSet
from studio.core.objects import RealmObject
from studio.core.realm import Realm
from studio.core.schema import ObjectSchema, Property
from studio.sync.values import value_key


class Ref:
    """A link in plain form: the target's class and primary key."""

    __slots__ = ("class_name", "primary_key")

    def __init__(self, class_name: str, primary_key: Any) -> None:
        self.class_name = class_name
        self.primary_key = primary_key

    def key(self) -> tuple[Any, ...]:
        return ("link", self.class_name, value_key(self.primary_key))

    def __repr__(self) -> str:
        return f"{self.class_name}[{self.primary_key!r}]"


def plain_value(value: Any) -> Any:
    """A realm value (object, collection, scalar) as plain Python: links become
    :class:`Ref`, embedded objects dicts, lists lists, sets lists in stored order,
    dictionaries dicts."""
    if isinstance(value, RealmObject):
        schema = value.object_schema
        if schema.embedded or schema.primary_key is None:
            return {
                p.name: plain_value(value[p.name]) for p in schema.properties if not p.is_backlink
            }
        return Ref(schema.name, value[schema.primary_key])
    if isinstance(value, RealmList | RealmSet):
        return [plain_value(v) for v in value]
    if isinstance(value, RealmDictionary):
        return {k: plain_value(v) for k, v in value.items()}
    return value


def comparable(value: Any) -> Any:
    """A hashable, exact key of a plain value (``1`` and ``True`` differ)."""
    if isinstance(value, Ref):
        return value.key()
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, comparable(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("list", tuple(comparable(v) for v in value))
    return ("value", value_key(value))


def writable(target: Realm, value: Any, missing: list[Ref] | None = None) -> Any:
    """A plain value as ``target`` takes it: a :class:`Ref` becomes the target's
    object (None if it does not exist there; the ref is added to ``missing``)."""
    if isinstance(value, Ref):
        found = target.object_for_primary_key(value.class_name, value.primary_key)
        if found is None and missing is not None:
            missing.append(value)
        return found
    if isinstance(value, dict):
        return {k: writable(target, v, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [writable(target, v, missing) for v in value]
    return value


def writable_list(target: Realm, values: Iterable[Any], missing: list[Ref]) -> list[Any]:
    """Like :func:`writable` for a list's elements, leaving out links to objects
    the target does not have (a list cannot hold null links)."""
    out = []
    for value in values:
        converted = writable(target, value, missing)
        if converted is None and isinstance(value, Ref):
            continue
        out.append(converted)
    return out


def synced_classes(realm: Realm) -> list[ObjectSchema]:
    """The top-level classes with a primary key (the ones sync can address)."""
    return [c for c in realm.schema if not c.embedded and c.primary_key is not None]


def copy_state(source: Realm, target: Realm) -> None:
    """Make ``target``'s objects equal to ``source``'s, inside ``target``'s open
    write transaction. ``target`` first gets the classes and properties of
    ``source`` it lacks (an incompatible schema raises the core's schema error);
    classes only ``target`` has keep their definitions and lose their objects."""
    target_classes = {c.name: c for c in target.schema}
    missing_schema = [
        c
        for c in source.schema
        if c.name not in target_classes
        or any(target_classes[c.name].get(p.name) is None for p in c.properties)
    ]
    if missing_schema:
        target.update_schema(missing_schema)
    source_names = {c.name for c in synced_classes(source)}
    classes = synced_classes(target)
    # Deletions first (their cascades must not remove links set below), then
    # every missing object with its primary key only, so that links between
    # new objects can be set in the pass that follows.
    for cls in classes:
        pk = cls.primary_key
        assert pk is not None
        wanted = (
            {value_key(o[pk]) for o in source.objects(cls.name)}
            if cls.name in source_names
            else set()
        )
        doomed = [o for o in target.objects(cls.name) if value_key(o[pk]) not in wanted]
        if doomed:
            target.delete(doomed)
    for cls in classes:
        if cls.name not in source_names:
            continue
        pk = cls.primary_key
        assert pk is not None
        # Scalars (required ones must be given) but no links: their targets
        # may not exist yet, and links are always optional.
        scalars = [
            p.name
            for p in source.object_schema(cls.name).properties
            if not (p.is_backlink or p.is_collection or p.is_link or p.type == "mixed")
        ]
        for obj in source.objects(cls.name):
            if target.object_for_primary_key(cls.name, obj[pk]) is None:
                target.create(cls.name, {name: obj[name] for name in scalars})
    for cls in classes:
        if cls.name not in source_names:
            continue
        pk = cls.primary_key
        assert pk is not None
        source_schema = source.object_schema(cls.name)
        by_key = {value_key(o[pk]): o for o in target.objects(cls.name)}
        for obj in source.objects(cls.name):
            copy_object(obj, by_key[value_key(obj[pk])], source_schema, target)


def copy_object(
    source: RealmObject, target: RealmObject, schema: ObjectSchema, realm: Realm
) -> None:
    """Write every property of ``source`` that differs into ``target``."""
    for prop in schema.properties:
        if prop.is_backlink or prop.is_primary_key:
            continue
        copy_property(source, target, prop, realm)


def copy_property(source: RealmObject, target: RealmObject, prop: Property, realm: Realm) -> None:
    theirs = plain_value(source[prop.name])
    mine = plain_value(target[prop.name])
    if comparable(theirs) == comparable(mine):
        return
    if prop.collection == "dictionary" and isinstance(theirs, dict):
        entries = target[prop.name]
        for key in [k for k in mine if k not in theirs]:
            del entries[key]
        for key, value in theirs.items():
            if key not in mine or comparable(mine[key]) != comparable(value):
                entries[key] = writable(realm, value)
        return
    if prop.collection in ("list", "set") and isinstance(theirs, list):
        target[prop.name] = writable_list(realm, theirs, [])
        return
    target[prop.name] = writable(realm, theirs)
