"""Live objects: a handle on one row that reads the current value on every access."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from studio.core.classinfo import parse_mixed_link
from studio.core.errors import InvalidatedObjectError, UnknownPropertyError
from studio.core.values import MixedTag, decode_mixed_primitive, make_decoder

if TYPE_CHECKING:
    from studio.core.classinfo import ClassInfo
    from studio.core.collections import LinkingObjects
    from studio.core.notify import NotificationToken
    from studio.core.realm import Realm
    from studio.core.schema import ObjectSchema, Property
    from studio.core.store import Store


class RealmObject:
    """One object of a realm. Values are read live: ``obj.name`` or ``obj["name"]``.

    Assigning (``obj.age = 41``) needs an open write transaction. The row is cached
    until the realm changes, so reading several properties costs one query.
    """

    __slots__ = ("__weakref__", "_info", "_key", "_realm", "_row", "_row_version", "_store")
    # The realm only keeps it alive (and answers .realm); everything else goes to the store.
    _realm: Realm
    _store: Store
    _info: ClassInfo
    _key: int
    _row: tuple[Any, ...] | None
    _row_version: int

    def __init__(
        self, store: Store, info: ClassInfo, key: int, row: tuple[Any, ...] | None = None
    ) -> None:
        _set_realm(self, store.realm)
        _set_store(self, store)
        _set_info(self, info)
        _set_key(self, key)
        _set_row(self, row)
        _set_row_version(self, store.version if row is not None else -1)

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
        if self._store.closed:
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
            and other._store.path == self._store.path
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
        store = self._store
        row = self._row
        if row is not None and self._row_version == store.version:
            return row
        store.check_open()
        fetched: tuple[Any, ...] | None = store.conn.execute(
            self._info.select_one_sql, (self._key,)
        ).fetchone()
        if fetched is None:
            raise InvalidatedObjectError(
                f"this {self._class_name} object was deleted and can no longer be used"
            )
        _set_row(self, fetched)
        _set_row_version(self, store.version)
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
                return None if value is None else object_at(self._store, target, value)
            return decode_mixed(self._store, value, row[col.index + 1])
        collection = info.collections.get(name)
        if collection is not None:
            from studio.core.collections import collection_of

            self._load_row()
            return collection_of(self, collection)
        backlink = info.backlinks.get(name)
        if backlink is not None:
            self._load_row()
            return _linking_objects(self, backlink)
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
        self._store.current_writer().set_value(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            raise AttributeError(f"cannot set {name!r} on a realm object")
        self[name] = value

    def increment(self, name: str, delta: int = 1) -> None:
        """Add ``delta`` to an int property; merges with concurrent increments under sync."""
        self._store.current_writer().add_integer(self, name, delta)

    # -- conversion and listening ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values: links to objects with a primary key become that key,
        embedded objects and links to objects without one become nested dicts."""
        from studio.core.export import object_to_dict

        return object_to_dict(self)

    def add_listener(self, callback: Callable[[RealmObject, Any], None]) -> NotificationToken:
        """``callback(obj, change)`` after each commit that changed or deleted this object."""
        return self._store.notifier.add_object_listener(self, callback)


# Slot setters, bound once: RealmObject.__setattr__ is the user-facing property setter.
_set_realm = RealmObject.__dict__["_realm"].__set__
_set_info = RealmObject.__dict__["_info"].__set__
_set_key = RealmObject.__dict__["_key"].__set__
_set_row = RealmObject.__dict__["_row"].__set__
_set_row_version = RealmObject.__dict__["_row_version"].__set__
_set_store = RealmObject.__dict__["_store"].__set__
_new_object = object.__new__


# -- making objects and values from rows ----------------------------------------------------


def object_with_row(
    realm: Realm, store: Store, info: ClassInfo, row: tuple[Any, ...]
) -> RealmObject:
    """An object whose row was just read (row[0] is its key), for loops that make many:
    skips __init__ (the caller holds the realm already)."""
    obj = _new_object(RealmObject)
    _set_realm(obj, realm)
    _set_store(obj, store)
    _set_info(obj, info)
    _set_key(obj, row[0])
    _set_row(obj, row)
    _set_row_version(obj, store.version)
    return obj



class CreatedObjects(Sequence[RealmObject]):
    """The objects ``create_many`` created, in order; each ``RealmObject`` is made when it
    is read. (A list of 100,000 objects made up front cost a fifth of the whole call,
    mostly in the garbage collector; most callers never look at them.)"""

    __slots__ = ("_info", "_keys", "_store")

    def __init__(self, store: Store, info: ClassInfo, keys: Sequence[int]) -> None:
        self._store = store
        self._info = info
        self._keys = keys

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, index: int) -> RealmObject: ...
    @overload
    def __getitem__(self, index: slice) -> list[RealmObject]: ...
    def __getitem__(self, index: int | slice) -> RealmObject | list[RealmObject]:
        if isinstance(index, slice):
            return [RealmObject(self._store, self._info, k) for k in self._keys[index]]
        return RealmObject(self._store, self._info, self._keys[index])

    def __iter__(self) -> Iterator[RealmObject]:
        store, info = self._store, self._info
        for key in self._keys:
            yield RealmObject(store, info, key)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CreatedObjects | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{len(self)} created {self._info.schema.name} objects>"


def object_at(store: Store, class_name: str, key: int) -> RealmObject:
    """The object a link column or list entry holds (its row is read on first use)."""
    return RealmObject(store, store.infos[class_name], key)


def decode_mixed(store: Store, value: Any, tag: Any) -> Any:
    """A mixed value as stored (value and type tag): a link becomes its object (None when
    it is gone), anything else its Python value."""
    if tag == MixedTag.LINK:
        class_name, key = parse_mixed_link(value)
        info = store.infos.get(class_name)
        if info is None:
            return None
        row = store.conn.execute(info.select_one_sql, (key,)).fetchone()
        return None if row is None else RealmObject(store, info, key, tuple(row))
    return decode_mixed_primitive(value, tag)


def decode_value(store: Store, prop: Property, value: Any, tag: Any) -> Any:
    """A stored value of ``prop``'s type (a collection's element) as the app sees it."""
    if value is None and not tag:
        return None
    if prop.type == "object":
        return RealmObject(store, store.infos[prop.object_type or ""], value)
    if prop.type == "mixed":
        return decode_mixed(store, value, tag)
    decode = make_decoder(prop.type)
    return value if decode is None else decode(value)


def _linking_objects(obj: RealmObject, prop: Property) -> LinkingObjects:
    from studio.core.collections import LinkingObjects

    origin = obj._store.info(prop.object_type or "").schema.get_property(
        prop.origin_property or ""
    )
    return LinkingObjects(obj, prop, origin)
