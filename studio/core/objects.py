"""Live objects: a handle on one row that reads the current value on every access."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from studio.core.errors import InvalidatedObjectError, UnknownPropertyError

if TYPE_CHECKING:
    from studio.core.classinfo import ClassInfo
    from studio.core.notify import NotificationToken
    from studio.core.realm import Realm
    from studio.core.schema import ObjectSchema


class RealmObject:
    """One object of a realm. Values are read live: ``obj.name`` or ``obj["name"]``.

    Assigning (``obj.age = 41``) needs an open write transaction. The row is cached
    until the realm changes, so reading several properties costs one query.
    """

    __slots__ = ("__weakref__", "_info", "_key", "_realm", "_row", "_row_version")
    _realm: Realm
    _info: ClassInfo
    _key: int
    _row: tuple[Any, ...] | None
    _row_version: int

    def __init__(
        self, realm: Realm, info: ClassInfo, key: int, row: tuple[Any, ...] | None = None
    ) -> None:
        object.__setattr__(self, "_realm", realm)
        object.__setattr__(self, "_info", info)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_row", row)
        object.__setattr__(self, "_row_version", realm._version if row is not None else -1)

    @classmethod
    def _with_row(cls, realm: Realm, info: ClassInfo, row: tuple[Any, ...]) -> RealmObject:
        """An object whose row was just read (row[0] is its key); skips __init__'s checks."""
        obj = object.__new__(cls)
        _set_realm(obj, realm)
        _set_info(obj, info)
        _set_key(obj, row[0])
        _set_row(obj, row)
        _set_row_version(obj, realm._version)
        return obj

    # -- identity -----------------------------------------------------------------------------

    @property
    def _class_name(self) -> str:
        return self._info.schema.name

    @property
    def object_schema(self) -> ObjectSchema:
        return self._info.schema

    @property
    def realm(self) -> Realm:
        return self._realm

    @property
    def is_valid(self) -> bool:
        """False once the object was deleted (or its realm closed)."""
        if self._realm.is_closed:
            return False
        try:
            self._load_row()
        except InvalidatedObjectError:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, RealmObject)
            and other._key == self._key
            and other._info.schema.name == self._info.schema.name
            and other._realm._path == self._realm._path
        )

    def __hash__(self) -> int:
        return hash((self._info.schema.name, self._key))

    def __repr__(self) -> str:
        pk = self._info.schema.primary_key
        if pk is not None and self.is_valid:
            return f"<{self._class_name} {pk}={self[pk]!r}>"
        return f"<{self._class_name} key={self._key}{'' if self.is_valid else ' (deleted)'}>"

    # -- reading ------------------------------------------------------------------------------

    def _load_row(self) -> tuple[Any, ...]:
        realm = self._realm
        row = self._row
        if row is not None and self._row_version == realm._version:
            return row
        realm._check_open()
        fetched: tuple[Any, ...] | None = realm._conn.execute(
            self._info.select_one_sql, (self._key,)
        ).fetchone()
        if fetched is None:
            raise InvalidatedObjectError(
                f"this {self._class_name} object was deleted and can no longer be used"
            )
        object.__setattr__(self, "_row", fetched)
        object.__setattr__(self, "_row_version", realm._version)
        return fetched

    def __getitem__(self, name: str) -> Any:
        info = self._info
        col = info.columns.get(name)
        if col is not None:
            row = self._load_row()
            value = row[col.index]
            if col.decode is not None:
                return col.decode(value)
            if col.encode is not None:
                return value
            if col.prop.type == "object":
                target = col.prop.object_type or ""
                return None if value is None else self._realm._object(target, value)
            return self._realm._decode_mixed(value, row[col.index + 1])
        collection = info.collections.get(name)
        if collection is not None:
            self._load_row()
            return self._realm._collection(self, collection)
        backlink = info.backlinks.get(name)
        if backlink is not None:
            self._load_row()
            return self._realm._linking_objects(self, backlink)
        raise UnknownPropertyError(
            f"class {self._class_name!r} has no property {name!r}; its properties are: "
            + ", ".join(p.name for p in info.schema.properties)
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except UnknownPropertyError as exc:
            raise AttributeError(str(exc)) from None

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except UnknownPropertyError:
            return default

    def keys(self) -> list[str]:
        return [p.name for p in self._info.schema.properties]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    # -- writing ------------------------------------------------------------------------------

    def __setitem__(self, name: str, value: Any) -> None:
        self._realm._writer().set_value(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            raise AttributeError(f"cannot set {name!r} on a realm object")
        self[name] = value

    def increment(self, name: str, delta: int = 1) -> None:
        """Add ``delta`` to an int property; merges with concurrent increments under sync."""
        self._realm._writer().add_integer(self, name, delta)

    # -- conversion and listening ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values: links to objects with a primary key become that key,
        embedded objects and links to objects without one become nested dicts."""
        from studio.core.export import object_to_dict

        return object_to_dict(self)

    def add_listener(self, callback: Callable[[RealmObject, Any], None]) -> NotificationToken:
        """``callback(obj, change)`` after each commit that changed or deleted this object."""
        return self._realm._notifier.add_object_listener(self, callback)


# Slot setters, bound once: RealmObject.__setattr__ is the user-facing property setter.
_set_realm = RealmObject.__dict__["_realm"].__set__
_set_info = RealmObject.__dict__["_info"].__set__
_set_key = RealmObject.__dict__["_key"].__set__
_set_row = RealmObject.__dict__["_row"].__set__
_set_row_version = RealmObject.__dict__["_row_version"].__set__
