"""REST reads, served from a realm's state file (the studio.core realm the
state worker keeps, storage/state_worker.py), opened read-only on an I/O
thread for each request.

Pages are ordered by a sort property and then the primary key; the cursor
names the last object of a page by those two values, so the next page
starts after it whatever was inserted or erased meanwhile (no offsets).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from studio.core import Realm, RealmError
from studio.core.errors import QueryError
from studio.core.export_files import export_object, export_scalar
from studio.core.objects import RealmObject
from studio.core.property_types import PROPERTY_TYPES
from studio.core.results import Results
from studio.core.schema import ObjectSchema, Property
from studio.core.synced import get_sync_value
from studio.server.errors import ApiError, BadRequest, NotFound
from studio.server.storage.state_worker import STATE_CURSOR

SORTABLE: Final = frozenset(
    {"bool", "int", "float", "double", "string", "date", "objectId", "uuid", "decimal128"}
)
MAX_CURSOR_CHARS: Final = 4096
MAX_QUERY_CHARS: Final = 4096


class StateBehind(Exception):
    """The state file has not applied the version the read must see yet."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


@dataclass(frozen=True, slots=True)
class PageRequest:
    class_name: str
    query: str | None
    sort: str | None
    """A property name, ``-name`` for descending; None: the primary key."""
    limit: int
    after: str | None


class ClassNotInState(Exception):
    """The state has no such class (yet: the history may have it)."""


def _open(file: Path, min_version: int) -> Realm:
    try:
        realm = Realm.open(file, read_only=True)
    except (RealmError, OSError) as exc:
        raise ApiError(
            f"the realm's state cannot be read now ({exc}); try again",
            code="unavailable",
            status=503,
        ) from None
    version = int(get_sync_value(realm, STATE_CURSOR, "0") or 0)
    if version < min_version:
        realm.close()
        raise StateBehind(version)
    return realm


def _schema(realm: Realm, class_name: str) -> ObjectSchema:
    for schema in realm.schema:
        if schema.name == class_name and not schema.embedded:
            return schema
    raise ClassNotInState(class_name)


def object_exists(file: Path, min_version: int, class_name: str, pk: Any) -> bool:
    realm = _open(file, min_version)
    try:
        schema = _schema(realm, class_name)
        return realm.object_for_primary_key(schema.name, pk) is not None
    finally:
        realm.close()


def read_object(file: Path, min_version: int, class_name: str, pk: Any) -> dict[str, Any]:
    realm = _open(file, min_version)
    try:
        _schema(realm, class_name)
        obj = realm.object_for_primary_key(class_name, pk)
        if obj is None:
            raise NotFound(f"there is no {class_name} with primary key {pk!r:.100}")
        return export_object(obj)
    finally:
        realm.close()


# ---------------------------------------------------------------------------- pages


def _encode_cursor(sort_value: Any, pk: Any) -> str:
    raw = json.dumps([export_scalar(sort_value), export_scalar(pk)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor_value(prop: Property, value: Any) -> Any:
    """A value of ``prop`` back from its exported form in a cursor."""
    if value is None:
        if prop.optional:
            return None
        raise ValueError("null")
    if prop.type in ("int", "bool", "string"):
        ok = isinstance(value, str) if prop.type == "string" else isinstance(value, int)
        if not ok or (prop.type == "int" and isinstance(value, bool)):
            raise ValueError(prop.type)
        return value
    if prop.type in ("float", "double") and isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(prop.type)
    return PROPERTY_TYPES[prop.type].parse(value)


def _decode_cursor(text: str, sort: Property, pk: Property) -> tuple[Any, Any]:
    bad = BadRequest("after is not a cursor of this listing; use the 'next' of a page")
    if len(text) > MAX_CURSOR_CHARS:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        pair = json.loads(raw.decode())
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError("shape")
        return _cursor_value(sort, pair[0]), _cursor_value(pk, pair[1])
    except (ValueError, binascii.Error, UnicodeDecodeError, RealmError, RecursionError):
        raise bad from None


def _after(
    results: Results, sort: str, pk: str, descending: bool, cursor: tuple[Any, Any]
) -> Results:
    """The objects after the cursor in (sort, pk) order. Nulls come first
    ascending and last descending (the core's order); ties go by primary key."""
    value, key = cursor
    if sort == pk:
        return results.filtered(f"{pk} > $0", key)
    if not descending:
        if value is None:
            return results.filtered(f"({sort} == nil AND {pk} > $0) OR {sort} != nil", key)
        return results.filtered(f"{sort} > $0 OR ({sort} == $0 AND {pk} > $1)", value, key)
    if value is None:
        return results.filtered(f"{sort} == nil AND {pk} > $0", key)
    return results.filtered(
        f"{sort} < $0 OR ({sort} == $0 AND {pk} > $1) OR {sort} == nil", value, key
    )


def read_page(file: Path, min_version: int, page: PageRequest) -> dict[str, Any]:
    realm = _open(file, min_version)
    try:
        schema = _schema(realm, page.class_name)
        pk_name = schema.primary_key
        if pk_name is None:
            raise BadRequest(
                f"{schema.name} has no primary key; the REST API lists objects by primary key"
            )
        descending = page.sort is not None and page.sort.startswith("-")
        sort_name = (page.sort[1:] if descending else page.sort) if page.sort else pk_name
        assert sort_name is not None
        sort_prop = next((p for p in schema.properties if p.name == sort_name), None)
        if sort_prop is None or sort_prop.collection is not None or sort_prop.type not in SORTABLE:
            raise BadRequest(
                f"sort must name a property of {schema.name} with single values of a "
                f"sortable type (optionally with a leading '-'); got {sort_name[:100]!r}"
            )
        pk_prop = schema.get_property(pk_name)
        results = realm.objects(schema.name)
        try:
            if page.query:
                results = results.filtered(page.query)
            if page.after is not None:
                cursor = _decode_cursor(page.after, sort_prop, pk_prop)
                results = _after(results, sort_name, pk_name, descending, cursor)
        except QueryError as exc:
            raise ApiError(
                f"query: {exc.message} (at position {exc.position})",
                code="bad_query",
                status=400,
            ) from None
        if sort_name == pk_name:
            results = results.sorted(pk_name, reverse=descending)
        else:
            results = results.sorted([(sort_name, not descending), (pk_name, True)])
        objects: list[RealmObject] = []
        for obj in results:
            objects.append(obj)
            if len(objects) > page.limit:
                break
        more = len(objects) > page.limit
        objects = objects[: page.limit]
        last = objects[-1] if more else None
        return {
            "objects": [export_object(o) for o in objects],
            "next": None if last is None else _encode_cursor(last[sort_name], last[pk_name]),
        }
    finally:
        realm.close()
