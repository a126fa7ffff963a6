"""Live lists, sets and dictionaries of an object, and its linking objects (backlinks)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, overload

from studio.core.objects import decode_value, object_at
from studio.core.storage import KEY, quote

if TYPE_CHECKING:
    from studio.core.objects import RealmObject
    from studio.core.results import Results
    from studio.core.schema import Property
    from studio.core.store import Store


def collection_of(owner: RealmObject, prop: Property) -> RealmList | RealmSet | RealmDictionary:
    """The live collection of ``owner``'s list, set or dictionary property ``prop``."""
    if prop.collection == "list":
        return RealmList(owner, prop)
    if prop.collection == "set":
        return RealmSet(owner, prop)
    return RealmDictionary(owner, prop)


class _Collection:
    __slots__ = ("_owner", "_prop", "_store", "_table")

    def __init__(self, owner: RealmObject, prop: Property) -> None:
        self._owner = owner
        self._prop = prop
        self._store: Store = owner._store
        self._table = owner._info.collection_table(prop)

    @property
    def property_schema(self) -> Property:
        return self._prop

    @property
    def owner(self) -> RealmObject:
        return self._owner

    def _value_columns(self) -> str:
        return 'value, "value@type"' if self._prop.type == "mixed" else "value, NULL"

    def _rows(self, order: str, where: str = "", params: tuple[Any, ...] = ()) -> list[Any]:
        store = self._store
        store.check_open()
        self._owner._load_row()
        sql = (
            f"SELECT {self._value_columns()} FROM {self._table} "
            f"WHERE owner = ?{where} ORDER BY {order}"
        )
        return store.conn.execute(sql, (self._owner._key, *params)).fetchall()

    def _decode(self, value: Any, tag: Any) -> Any:
        return decode_value(self._store, self._prop, value, tag)

    def __len__(self) -> int:
        store = self._store
        store.check_open()
        self._owner._load_row()
        row = store.conn.execute(
            f"SELECT count(*) FROM {self._table} WHERE owner = ?", (self._owner._key,)
        ).fetchone()
        return int(row[0])

    def __bool__(self) -> bool:
        return len(self) > 0

    def clear(self) -> None:
        self._store.current_writer().collection_clear(self._owner, self._prop)

    def add_listener(self, callback: Callable[..., None]) -> Any:
        """``callback(collection, change)`` when the owner's property changes (ObjectChange)."""
        prop_name = self._prop.name

        def on_owner(_obj: RealmObject, change: Any) -> None:
            if change.deleted or prop_name in change.changed_properties:
                callback(self, change)

        return self._owner.add_listener(on_owner)


class RealmList(_Collection):
    """A live list property: indexable, sliceable, mutable inside a write."""

    __slots__ = ()

    def _all(self) -> list[Any]:
        return [self._decode(v, t) for v, t in self._rows("pos")]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._all())

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return self._all()[index]
        size = len(self)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(f"list index {index} out of range for a list of {size}")
        rows = self._rows("pos", " AND pos = ?", (index,))
        return self._decode(*rows[0])

    def __setitem__(self, index: int, value: Any) -> None:
        self._store.current_writer().list_set(self._owner, self._prop, index, value)

    def __delitem__(self, index: int) -> None:
        self._store.current_writer().list_erase(self._owner, self._prop, index)

    def __contains__(self, value: Any) -> bool:
        return any(v == value for v in self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RealmList):
            return self._all() == other._all()
        if isinstance(other, list):
            return self._all() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RealmList({self._all()!r})"

    def append(self, value: Any) -> None:
        self._store.current_writer().list_insert(self._owner, self._prop, len(self), value)

    def insert(self, index: int, value: Any) -> None:
        size = len(self)
        if index < 0:
            index = max(0, index + size)
        self._store.current_writer().list_insert(self._owner, self._prop, min(index, size), value)

    def extend(self, values: Iterable[Any]) -> None:
        for value in values:
            self.append(value)

    def pop(self, index: int = -1) -> Any:
        value = self[index]
        del self[index if index >= 0 else index + len(self)]
        return value

    def remove(self, value: Any) -> None:
        del self[self.index(value)]

    def index(self, value: Any) -> int:
        for i, item in enumerate(self._all()):
            if item == value:
                return i
        raise ValueError(f"{value!r} is not in the list")

    def move(self, from_index: int, to_index: int) -> None:
        self._store.current_writer().list_move(self._owner, self._prop, from_index, to_index)

    def to_list(self) -> list[Any]:
        return self._all()


class RealmSet(_Collection):
    """A live set property. Iteration is in the stored value order."""

    __slots__ = ()

    def _all(self) -> list[Any]:
        return [self._decode(v, t) for v, t in self._rows("value")]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._all())

    def __contains__(self, value: Any) -> bool:
        return any(v == value for v in self._all())

    def __eq__(self, other: object) -> bool:
        mine = self._all()
        if isinstance(other, RealmSet):
            other = other._all()
        if isinstance(other, set | frozenset | list):
            return len(mine) == len(other) and all(v in other for v in mine)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RealmSet({self._all()!r})"

    def add(self, value: Any) -> None:
        self._store.current_writer().set_insert(self._owner, self._prop, value)

    def update(self, values: Iterable[Any]) -> None:
        for value in values:
            self.add(value)

    def discard(self, value: Any) -> None:
        self._store.current_writer().set_erase(self._owner, self._prop, value, missing_ok=True)

    def remove(self, value: Any) -> None:
        self._store.current_writer().set_erase(self._owner, self._prop, value, missing_ok=False)

    def to_list(self) -> list[Any]:
        return self._all()


class RealmDictionary(_Collection, MutableMapping[str, Any]):
    """A live dictionary property with string keys. Iteration is in key order."""

    __slots__ = ()

    def _items(self) -> list[tuple[str, Any]]:
        store = self._store
        store.check_open()
        self._owner._load_row()
        sql = f"SELECT key, {self._value_columns()} FROM {self._table} WHERE owner = ? ORDER BY key"
        rows = store.conn.execute(sql, (self._owner._key,)).fetchall()
        return [(k, self._decode(v, t)) for k, v, t in rows]

    def __getitem__(self, key: str) -> Any:
        rows = self._rows("key", " AND key = ?", (key,))
        if not rows:
            raise KeyError(key)
        return self._decode(*rows[0])

    def __setitem__(self, key: str, value: Any) -> None:
        self._store.current_writer().dict_set(self._owner, self._prop, key, value)

    def __delitem__(self, key: str) -> None:
        self._store.current_writer().dict_erase(self._owner, self._prop, key)

    def __iter__(self) -> Iterator[str]:
        return iter([k for k, _ in self._items()])

    def __len__(self) -> int:
        return _Collection.__len__(self)

    def items(self) -> list[tuple[str, Any]]:  # type: ignore[override]
        return self._items()

    def values(self) -> list[Any]:  # type: ignore[override]
        return [v for _, v in self._items()]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RealmDictionary):
            other = dict(other._items())
        if isinstance(other, dict):
            return dict(self._items()) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RealmDictionary({dict(self._items())!r})"

    def to_dict(self) -> dict[str, Any]:
        return dict(self._items())


class LinkingObjects:
    """The objects whose link property points at an owner (a computed, read-only list)."""

    __slots__ = ("_origin", "_owner", "_prop")

    def __init__(self, owner: RealmObject, prop: Property, origin: Property) -> None:
        self._owner = owner
        self._prop = prop
        self._origin = origin

    def _keys(self) -> list[int]:
        store = self._owner._store
        store.check_open()
        origin_class = self._prop.object_type or ""
        key = self._owner._key
        if self._origin.collection is None:
            sql = (
                f"SELECT {KEY} FROM {quote('class_' + origin_class)} "
                f"WHERE {quote(self._origin.name)} = ? ORDER BY {KEY}"
            )
        else:
            table = quote(f"{self._origin.collection}:{origin_class}.{self._origin.name}")
            sql = f"SELECT DISTINCT owner FROM {table} WHERE value = ? ORDER BY owner"
        return [row[0] for row in store.conn.execute(sql, (key,))]

    def _objects(self) -> list[RealmObject]:
        store = self._owner._store
        name = self._prop.object_type or ""
        return [object_at(store, name, k) for k in self._keys()]

    def __len__(self) -> int:
        return len(self._keys())

    def __iter__(self) -> Iterator[RealmObject]:
        return iter(self._objects())

    def __getitem__(self, index: int | slice) -> Any:
        return self._objects()[index]

    def __contains__(self, obj: object) -> bool:
        return obj in self._objects()

    def __repr__(self) -> str:
        return f"LinkingObjects({self._objects()!r})"

    def filtered(self, query: str, *args: Any) -> Results:
        """The linking objects that match ``query``, as a live Results of the origin class.

        The query may end with SORT/DISTINCT/LIMIT: it is applied as a second filter.
        """
        return (
            self._owner.realm.objects(self._prop.object_type or "")
            .filtered(f"{self._origin.name} == $0", self._owner)
            .filtered(query, *args)
        )
