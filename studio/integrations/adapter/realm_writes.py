"""PostgreSQL -> realm: writing captured SQL changes (and initial rows) into a realm.

Every value is converted and checked before the object is touched
(:func:`prepare`), so a row the realm cannot hold raises :class:`BadRowError`
having written nothing, and the transaction goes on with the next row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.core import Realm, RealmObject
from studio.core.schema import ObjectSchema, Property
from studio.integrations.adapter.mapping import LinkTo, from_pg, scalar
from studio.integrations.adapter.tables import Change
from studio.integrations.errors import BadRowError


@dataclass(slots=True)
class Touched:
    """Objects a batch of SQL changes touched, per class (realm primary keys):
    their realm state is written back to PostgreSQL afterwards."""

    keys: dict[str, dict[Any, None]] = field(default_factory=dict)

    def add(self, class_name: str, key: Any) -> None:
        self.keys.setdefault(class_name, {})[key] = None


@dataclass(frozen=True, slots=True)
class Action:
    """What one captured change does to one realm: erase an object, or set values."""

    change: Change
    delete: bool


def actions_for(change: Change, path: str) -> list[Action]:
    """The actions of ``change`` in the realm ``path`` (an UPDATE that moved a row
    to another key or realm is an erase at the old place and an insert at the new)."""
    out = []
    if (change.op == "DELETE" or change.moved) and change.old_realm == path:
        out.append(Action(change, delete=True))
    if change.op != "DELETE" and change.realm == path:
        out.append(Action(change, delete=False))
    return out


def realm_key(schema: ObjectSchema, json_key: Any) -> Any:
    """A primary key from its JSON image -> the realm value."""
    assert schema.primary_key is not None
    prop = schema.get_property(schema.primary_key)
    if json_key is None and prop.optional:
        return None
    return scalar(prop.type, json_key, f"primary key {prop.name!r}")


def touch(realm: Realm, action: Action, touched: Touched) -> None:
    """Only note the object an action applied before a restart touched (its row is
    written back again: the crash may have come before that)."""
    change = action.change
    try:
        schema = _schema(realm, change.table)
        touched.add(schema.name, realm_key(schema, change.old_key if action.delete else change.key))
    except BadRowError:
        pass  # a key the realm could not take: the row went with the dead letter


def apply_action(realm: Realm, action: Action, touched: Touched) -> None:
    """Write one action into ``realm`` (inside its write transaction)."""
    change = action.change
    schema = _schema(realm, change.table)
    if action.delete:
        key = realm_key(schema, change.old_key)
        touched.add(schema.name, key)
        obj = realm.object_for_primary_key(schema.name, key)
        if obj is not None:
            realm.delete(obj)
        return
    assert change.row is not None
    key = realm_key(schema, change.key)
    touched.add(schema.name, key)
    existing = None if change.moved else realm.object_for_primary_key(schema.name, key)
    names = None if existing is None or change.changed is None else set(change.changed)
    values = prepare(realm, schema, change.row, names)
    realm.create(schema.name, values, update=existing is not None)


def prepare(
    realm: Realm, schema: ObjectSchema, row: dict[str, Any], names: set[str] | None
) -> dict[str, Any]:
    """The realm values of a row image (only the columns in ``names``, None: all),
    links resolved to the objects they name."""
    classes = {s.name: s for s in realm.schema}
    assert schema.primary_key is not None
    values: dict[str, Any] = {schema.primary_key: realm_key(schema, row.get(schema.primary_key))}
    for prop in schema.persisted_properties:
        if prop.is_primary_key or (names is not None and prop.name not in names):
            continue
        if prop.name not in row:
            if names is None and not prop.optional and not prop.is_collection and not prop.is_link:
                raise BadRowError(f"the table has no column {prop.name!r}, which is required")
            continue
        values[prop.name] = _resolve(realm, prop, from_pg(prop, row[prop.name], classes))
    # Columns the realm has no property for (added by SQL users) are not synced.
    return values


def _resolve(realm: Realm, prop: Property, value: Any) -> Any:
    if isinstance(value, LinkTo):
        return _target(realm, prop, value)
    if isinstance(value, list):
        return [_resolve(realm, prop, v) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(realm, prop, v) for k, v in value.items()}
    return value


def _target(realm: Realm, prop: Property, link: LinkTo) -> RealmObject:
    try:
        obj = realm.object_for_primary_key(link.class_name, link.primary_key)
    except Exception as exc:  # an unknown class, a key of the wrong type
        raise BadRowError(f"column {prop.name!r}: cannot link to {link.class_name} "
                          f"{link.primary_key!r}: {exc}") from None  # fmt: skip
    if obj is None:
        raise BadRowError(
            f"column {prop.name!r}: there is no {link.class_name} with primary key "
            f"{link.primary_key!r} in this realm to link to"
        )
    return obj


def _schema(realm: Realm, class_name: str) -> ObjectSchema:
    for schema in realm.schema:
        if schema.name == class_name:
            if schema.primary_key is None or schema.embedded:
                break
            return schema
    raise BadRowError(f"the realm has no class {class_name!r} with a primary key")


def missing_classes(realm: Realm, tables: Sequence[str]) -> list[str]:
    names = {s.name for s in realm.schema}
    return [t for t in dict.fromkeys(tables) if t not in names]
