"""Plain-Python views of objects: ``to_dict`` and the values ``studio export`` writes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studio.core.objects import RealmObject


def _plain(value: Any, seen: frozenset[tuple[str, int]]) -> Any:
    from studio.core.collections import LinkingObjects, RealmDictionary, RealmList, RealmSet
    from studio.core.objects import RealmObject

    if isinstance(value, RealmObject):
        schema = value._info.schema
        if schema.primary_key is not None:
            return value[schema.primary_key]
        ident = (schema.name, value._key)
        if ident in seen:
            return {"_key": value._key}
        return object_to_dict(value, seen | {ident})
    if isinstance(value, RealmList | LinkingObjects):
        return [_plain(v, seen) for v in value]
    if isinstance(value, RealmSet):
        return [_plain(v, seen) for v in value]
    if isinstance(value, RealmDictionary):
        return {k: _plain(v, seen) for k, v in value.items()}
    return value


def object_to_dict(
    obj: RealmObject, seen: frozenset[tuple[str, int]] = frozenset()
) -> dict[str, Any]:
    """Plain values of every stored property (linkingObjects left out)."""
    seen = seen | {(obj._info.schema.name, obj._key)}
    return {
        prop.name: _plain(obj[prop.name], seen)
        for prop in obj._info.schema.properties
        if not prop.is_backlink
    }
