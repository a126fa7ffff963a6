"""``RealmEvent``: what one download from the server changed in a realm, for handlers.

A download's changes are summarised from its changesets' instructions (so they
are exact: which objects were created, which properties were set, which
objects were erased) *before* they are applied, while the realm still holds the
old values. The summary is plain data (:class:`Changes`) that survives a
restart in the notifier's journal; a :class:`RealmEvent` joins it to the live
realm at delivery time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from studio.core import Realm, RealmDictionary, RealmList, RealmObject, RealmSet
from studio.core.history import decode_value, encode_value
from studio.primitives import instructions as ins

_MISSING_OLD = object()


@dataclass(slots=True)
class Changes:
    """Per class: primary keys inserted, modified (with the old values of the
    changed properties) and deleted, in the order they first appeared."""

    inserted: dict[str, dict[Any, None]] = field(default_factory=dict)
    modified: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=dict)
    deleted: dict[str, dict[Any, None]] = field(default_factory=dict)

    @property
    def classes(self) -> tuple[str, ...]:
        names = {n for part in (self.inserted, self.modified, self.deleted) for n, v in
                 part.items() if v}  # fmt: skip
        return tuple(sorted(names))

    def __bool__(self) -> bool:
        return bool(self.classes)

    def to_json(self) -> str:
        return json.dumps(
            {
                "i": {c: [_encode(pk) for pk in keys] for c, keys in self.inserted.items()},
                "m": {c: _encode_modified(objs) for c, objs in self.modified.items()},
                "d": {c: [_encode(pk) for pk in keys] for c, keys in self.deleted.items()},
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Changes:
        data = json.loads(text)
        return cls(
            {c: dict.fromkeys(_decode(pk) for pk in keys) for c, keys in data["i"].items()},
            {
                c: {_decode(pk): {p: _decode(v) for p, v in old.items()} for pk, old in objs}
                for c, objs in data["m"].items()
            },
            {c: dict.fromkeys(_decode(pk) for pk in keys) for c, keys in data["d"].items()},
        )


def summarize(realm: Realm, changesets: Iterable[ins.Changeset]) -> Changes:
    """What ``changesets`` change, read against ``realm`` *before* they are applied.

    An object created and erased in the same download is left out; one created
    and then changed is only "inserted"; old values are those the object had
    before the download.
    """
    changes = Changes()
    for changeset in changesets:
        for instruction in changeset.instructions:
            _add(changes, realm, instruction)
    return changes


def _add(changes: Changes, realm: Realm, instruction: ins.Instruction) -> None:
    if isinstance(instruction, ins.AddClass | ins.AddProperty):
        return
    cls: str | None = getattr(instruction, "class_name", None)
    if cls is None or not hasattr(instruction, "primary_key"):
        return  # schema removals and anything else not about one object
    pk = instruction.primary_key
    inserted = changes.inserted.setdefault(cls, {})
    if isinstance(instruction, ins.CreateObject):
        changes.deleted.get(cls, {}).pop(pk, None)
        inserted[pk] = None
        return
    if isinstance(instruction, ins.EraseObject):
        if pk in inserted:
            del inserted[pk]  # never existed as far as handlers are concerned
        else:
            changes.modified.get(cls, {}).pop(pk, None)
            changes.deleted.setdefault(cls, {})[pk] = None
        return
    path: tuple[Any, ...] = getattr(instruction, "path", ())
    if pk in inserted or not path or pk in changes.deleted.get(cls, {}):
        return
    old = changes.modified.setdefault(cls, {}).setdefault(pk, {})
    prop = str(path[0])
    if prop not in old:
        value = _read_old(realm, cls, pk, prop)
        old[prop] = None if value is _MISSING_OLD else value


def _read_old(realm: Realm, cls: str, pk: Any, prop: str) -> Any:
    try:
        obj = realm.object_for_primary_key(cls, pk)
        if obj is None or obj.object_schema.get(prop) is None:
            return _MISSING_OLD
        return snapshot(obj[prop])
    except Exception:  # a class or property the local schema does not have yet
        return _MISSING_OLD


def snapshot(value: Any) -> Any:
    """A plain copy of a property value: a linked object becomes an
    :class:`~studio.primitives.instructions.Link`, an embedded object a dict,
    lists and sets lists, dictionaries dicts."""
    if isinstance(value, RealmObject):
        schema = value.object_schema
        if schema.embedded:
            return {name: snapshot(value[name]) for name in value}
        return ins.Link(schema.name, value[schema.primary_key] if schema.primary_key else None)
    if isinstance(value, RealmDictionary):
        return {key: snapshot(v) for key, v in value.items()}
    if isinstance(value, RealmList | RealmSet):
        return [snapshot(v) for v in value]
    return value


def _encode_modified(objects: dict[Any, dict[str, Any]]) -> list[Any]:
    return [[_encode(pk), {p: _encode(v) for p, v in old.items()}] for pk, old in objects.items()]


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {"$m": {str(k): _encode(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return encode_value(value)


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$m"}:
        return {k: _decode(v) for k, v in value["$m"].items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return decode_value(value)


class RealmEvent:
    """Changes other clients made to one realm, as one download brought them.

    ``realm`` is the notifier's own synced copy: writable, and what is written
    syncs back to every device. ``inserted`` and ``modified`` return live
    objects as they are *now* (objects deleted since are left out);
    ``deleted`` returns primary keys; ``old_values(obj)`` the values the
    changed properties of a modified object had before this event.
    """

    def __init__(self, path: str, realm: Realm, server_version: int, changes: Changes) -> None:
        self.path = path
        self.realm = realm
        self.server_version = server_version
        """The realm's server version once this event's changes are applied."""
        self.changes = changes

    @property
    def classes(self) -> tuple[str, ...]:
        """Names of the classes with changes."""
        return self.changes.classes

    def inserted(self, class_name: str) -> list[RealmObject]:
        return self._live(class_name, self.changes.inserted.get(class_name, {}))

    def modified(self, class_name: str) -> list[RealmObject]:
        return self._live(class_name, self.changes.modified.get(class_name, {}))

    def deleted(self, class_name: str) -> list[Any]:
        """Primary keys of the objects deleted."""
        return list(self.changes.deleted.get(class_name, {}))

    def old_values(self, obj: RealmObject) -> dict[str, Any]:
        """``{property: value before this event}`` for a modified object ({} otherwise)."""
        schema = obj.object_schema
        if schema.primary_key is None:
            return {}
        old = self.changes.modified.get(schema.name, {}).get(obj[schema.primary_key])
        return dict(old) if old else {}

    def _live(self, class_name: str, keys: Iterable[Any]) -> list[RealmObject]:
        if class_name not in {s.name for s in self.realm.schema}:
            return []
        found = (self.realm.object_for_primary_key(class_name, pk) for pk in keys)
        return [obj for obj in found if obj is not None]

    def __repr__(self) -> str:
        return f"<RealmEvent {self.path} @{self.server_version} {', '.join(self.classes)}>"
