"""What a table shows: rows and columns over a Results, a collection or backlinks.

The table model only talks to the small :class:`RowSource` interface, so it works on
anything with a schema and sequence-like results: a ``studio.core`` Results (live,
editable), a list/set/dictionary property, an object's linking objects, or a later
read-only Realm Core file (objects with ``obj[prop]`` and an ``object_schema``).

No Qt here: sources are plain Python and testable without a screen.
"""

from __future__ import annotations

import abc
import difflib
from array import array
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from studio.core.schema import ObjectSchema, Property
from studio.ui.formatting import is_object, object_key

Unsubscribe = Callable[[], None]


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: a property of the row objects, a collection's element, or a key."""

    name: str
    prop: Property | None
    kind: str = "property"  # "property" | "element" | "key"


@dataclass(frozen=True, slots=True)
class Element:
    """A row of a primitive collection (or of a dictionary): position, key and value."""

    index: int
    key: str | None
    value: Any


@dataclass(frozen=True, slots=True)
class TableChanges:
    """Realm-shaped row changes: deletions in old indices, insertions and modifications in
    new indices. ``reset`` asks for a full reload (a schema change, lost changes)."""

    deletions: tuple[int, ...] = ()
    insertions: tuple[int, ...] = ()
    modifications: tuple[int, ...] = ()
    reset: bool = False

    def __bool__(self) -> bool:
        return bool(self.deletions or self.insertions or self.modifications or self.reset)


ChangeCallback = Callable[[TableChanges], None]
RefreshCallback = Callable[[], None]


def _is_core_results(results: Any) -> bool:
    from studio.core.results import Results

    return isinstance(results, Results)


def sortable_property(prop: Property | None) -> bool:
    return (
        prop is not None
        and prop.collection is None
        and prop.type not in ("object", "linkingObjects", "data")
    )


class RowSource(abc.ABC):
    """The interface the table model uses. Subclasses fill in the reading and writing."""

    title: str = ""
    columns: list[Column]
    object_schema: ObjectSchema | None = None  # class of the row objects; None for Elements
    realm: Any = None  # the studio.core Realm that writes go to; None when read-only
    read_only: bool = True
    queryable: bool = False

    @abc.abstractmethod
    def count(self) -> int:
        """How many rows there are."""

    @abc.abstractmethod
    def fetch(self, start: int, stop: int) -> list[Any]:
        """Rows ``start`` to ``stop`` (exclusive)."""

    def value(self, row: Any, column: Column) -> Any:
        if column.kind == "element":
            return row.value
        if column.kind == "key":
            return row.key
        return row[column.name]

    def write_value(self, row: Any, column: Column, value: Any) -> None:
        """Change one cell; the caller holds the write transaction."""
        if column.kind != "property":
            raise ValueError(f"the {column.kind} column {column.name!r} cannot be edited")
        row[column.name] = value

    def can_edit(self, column: Column) -> bool:
        prop = column.prop
        if self.read_only or self.realm is None:
            return False
        if column.kind == "key":
            return True
        if prop is None or prop.is_backlink or prop.collection is not None:
            return False
        # Realm never changes a primary key in place.
        return not (column.kind == "property" and prop.is_primary_key)

    def can_sort(self, column: Column) -> bool:
        return False

    def with_sort(self, column: Column | None, ascending: bool = True) -> RowSource | None:
        """The same rows sorted by ``column`` (None: unsorted); None if not possible."""
        return None

    @property
    def sort_state(self) -> tuple[str, bool] | None:
        return None

    def subscribe(self, on_change: ChangeCallback, on_refresh: RefreshCallback) -> Unsubscribe:
        """Call ``on_change`` with row changes and ``on_refresh`` when cells may show other
        values (a linked object changed). Default: a static source."""
        return lambda: None

    def find(self, key: int) -> int | None:
        """Row index of the object with this object key, if it is shown."""
        return None

    def row_key(self, row: Any) -> Any:
        """A value that identifies a row across changes (object key or element position)."""
        if is_object(row):
            return object_key(row)
        return (row.index, row.key)


class ResultsSource(RowSource):
    """Objects of one class matching a query, in order: a core Results or any sequence of
    objects with an ``object_schema`` (a Realm Core file's Results)."""

    queryable = True
    object_schema: ObjectSchema  # every Results knows its class

    def __init__(
        self,
        results: Any,
        *,
        realm: Any = None,
        read_only: bool = False,
        title: str | None = None,
        unsorted: Any = None,
        sort: tuple[str, bool] | None = None,
        query: str = "",
    ) -> None:
        self.results = results
        self.query = query  # the filter of ``unsorted``, so a worker can repeat it
        self.unsorted = unsorted if unsorted is not None else results
        self.object_schema = results.object_schema
        self.realm = realm
        self.read_only = read_only or realm is None
        self.title = title or self.object_schema.name
        self.columns = [Column(p.name, p) for p in self.object_schema.properties]
        self._sort = sort
        self._listening = False
        self._core = _is_core_results(results)

    def count(self) -> int:
        return len(self.results)

    def fetch(self, start: int, stop: int) -> list[Any]:
        if self._core and not self._listening:
            return self._window(start, stop)
        return list(self.results[start:stop])

    def _window(self, start: int, stop: int) -> list[Any]:
        # Until a listener makes the Results load all of its keys (a million keys take about
        # a second), read only this window (Results.page: LIMIT/OFFSET, lazy object handles
        # whose row is read when a cell shows it) so the first rows show at once.
        return list(self.results.page(start, stop - start))

    def can_sort(self, column: Column) -> bool:
        return column.kind == "property" and sortable_property(column.prop) and hasattr(
            self.unsorted, "sorted"
        )

    def with_sort(self, column: Column | None, ascending: bool = True) -> RowSource | None:
        if column is None:
            return ResultsSource(self.unsorted, realm=self.realm, read_only=self.read_only,
                                 title=self.title, query=self.query)
        if not self.can_sort(column):
            return None
        return ResultsSource(
            self.unsorted.sorted(column.name, reverse=not ascending),
            realm=self.realm, read_only=self.read_only, title=self.title,
            unsorted=self.unsorted, sort=(column.name, ascending), query=self.query,
        )

    # A source that is slow to sort in place whatever its size (a Realm Core file is
    # read in Python) sorts every time in the worker.
    always_sorts_in_background = False

    def sort_job(self, column: Column, ascending: bool
                 ) -> Callable[[Callable[[], bool]], Sequence[int]] | None:
        """The work of a background sort (``job(cancelled) -> the order``), when this
        source computes its own; None: the default (a read-only realm of the worker's)."""
        return None

    @property
    def sorts_in_background(self) -> bool:
        """Whether a worker thread can compute this source's sorts (a studio.core realm
        on a file: the worker opens its own read-only realm on it)."""
        return self._core and self.realm is not None and bool(getattr(self.realm, "path", ""))

    def with_sorted_keys(self, column: Column, ascending: bool, keys: Sequence[int],
                         resort: Callable[[Callable[[Sequence[int]], None]], None]
                         ) -> KeyedSource:
        """This source sorted by ``column``, its order given as object keys computed
        elsewhere (see :mod:`studio.ui.background_sort`); ``resort(done)`` computes the
        order again after a change and calls ``done(keys)`` on this thread."""
        return KeyedSource(self.unsorted, keys, resort, realm=self.realm,
                           read_only=self.read_only, title=self.title,
                           sort=(column.name, ascending), query=self.query)

    @property
    def sort_state(self) -> tuple[str, bool] | None:
        return self._sort

    def subscribe(self, on_change: ChangeCallback, on_refresh: RefreshCallback) -> Unsubscribe:
        if not hasattr(self.results, "add_listener"):
            return lambda: None
        own = self.object_schema.name

        def changed(_results: Any, changes: Any) -> None:
            on_change(TableChanges(
                tuple(changes.deletions), tuple(changes.insertions),
                tuple(changes.new_modifications),
            ))

        def realm_changed(_realm: Any, summary: Any) -> None:
            # Cells also show linked objects, collection counts and backlinks: any other
            # class changing may change what a visible cell says.
            if summary.schema_changed or any(c != own for c in summary.changed_classes):
                on_refresh()

        token = self.results.add_listener(changed)  # loads the keys: may take a while
        self._listening = True
        realm_token = self.realm.add_listener(realm_changed) if self.realm is not None else None

        def unsubscribe() -> None:
            token.remove()
            if realm_token is not None:
                realm_token.remove()
            self._listening = False

        return unsubscribe

    def find(self, key: int) -> int | None:
        if not self._core or self.realm is None:
            return None
        obj = self.realm.object_for_key(self.object_schema.name, key)
        if obj is None:
            return None
        try:
            return int(self.results.index(obj))
        except ValueError:
            return None


def _owned(keys: Sequence[int]) -> Sequence[int]:
    """Keys handed over by a worker are kept as they come (an array or a list of its
    own); anything else is copied."""
    return keys if isinstance(keys, list | array) else list(keys)


class KeyedSource(ResultsSource):
    """Objects in an order computed off the UI thread: the rows are object keys, each
    object is read by key when shown. A change to the objects asks for the order again
    (``resort``) and reloads when it comes, so the UI thread never runs the sort."""

    def __init__(self, unsorted: Any, keys: Sequence[int],
                 resort: Callable[[Callable[[Sequence[int]], None]], None], *,
                 realm: Any, read_only: bool, title: str, sort: tuple[str, bool],
                 query: str) -> None:
        super().__init__(unsorted, realm=realm, read_only=read_only, title=title,
                         unsorted=unsorted, sort=sort, query=query)
        self.keys = _owned(keys)
        self._positions: dict[int, int] | None = None
        self._resort = resort

    def count(self) -> int:
        return len(self.keys)

    def fetch(self, start: int, stop: int) -> list[Any]:
        name = self.object_schema.name
        return [self.realm.object_for_key(name, k) for k in self.keys[start:stop]]

    def find(self, key: int) -> int | None:
        if self._positions is None:
            self._positions = {k: i for i, k in enumerate(self.keys)}
        return self._positions.get(key)

    def subscribe(self, on_change: ChangeCallback, on_refresh: RefreshCallback) -> Unsubscribe:
        live = True

        def sorted_again(keys: Sequence[int]) -> None:
            if live:
                self.keys = _owned(keys)
                self._positions = None
                on_change(TableChanges(reset=True))

        def changed(_results: Any, _changes: Any) -> None:
            self._resort(sorted_again)

        def realm_changed(_realm: Any, summary: Any) -> None:
            if summary.schema_changed or any(c != self.object_schema.name
                                             for c in summary.changed_classes):
                on_refresh()

        token = self.unsorted.add_listener(changed)
        realm_token = self.realm.add_listener(realm_changed)

        def unsubscribe() -> None:
            nonlocal live
            live = False
            token.remove()
            realm_token.remove()

        return unsubscribe


def element_property(prop: Property) -> Property:
    """The property that describes one element of a collection property."""
    return replace(prop, collection=None, is_primary_key=False, indexed=False)


class _SnapshotSource(RowSource):
    """Rows kept as a list read in one go, refreshed by diffing after each commit.

    Collections and backlinks are small next to a class, so a full re-read and a diff
    (difflib's matching blocks) give exact row inserts and removals at little cost.
    """

    def __init__(self, owner: Any, prop: Property, realm: Any, read_only: bool) -> None:
        self.owner = owner
        self.prop = prop
        self.realm = realm
        self.read_only = read_only or realm is None
        self._rows: list[Any] | None = None
        self.owner_deleted = False

    @abc.abstractmethod
    def _read(self) -> list[Any]:
        """All rows, read afresh."""

    def _identity(self, row: Any) -> Hashable:
        if is_object(row):
            return ("o", object_key(row))
        value = row.value
        ident = ("o", object_key(value)) if is_object(value) else ("v", repr(value))
        return (row.key, ident)

    def _current(self) -> list[Any]:
        if self._rows is None:
            try:
                self._rows = self._read()
                self.owner_deleted = False
            except Exception:
                if getattr(self.owner, "is_valid", True):
                    raise
                self._rows = []  # the owner was deleted: nothing left to show
                self.owner_deleted = True
        return self._rows

    def count(self) -> int:
        return len(self._current())

    def fetch(self, start: int, stop: int) -> list[Any]:
        return self._current()[start:stop]

    def _watched(self) -> set[str]:
        names = {self.owner.object_schema.name}
        if self.prop.object_type:
            names.add(self.prop.object_type)
        return names

    def reload(self) -> TableChanges:
        old = [self._identity(r) for r in self._current()]
        self._rows = None
        new_rows = self._current()
        new = [self._identity(r) for r in new_rows]
        return diff_rows(old, new)

    def subscribe(self, on_change: ChangeCallback, on_refresh: RefreshCallback) -> Unsubscribe:
        if self.realm is None:
            return lambda: None
        watched = self._watched()

        def realm_changed(_realm: Any, summary: Any) -> None:
            if summary.schema_changed:
                self._rows = None
                on_change(TableChanges(reset=True))
                return
            touched = set(summary.changed_classes)
            if touched & watched:
                on_change(self.reload())
            elif touched:
                on_refresh()

        token = self.realm.add_listener(realm_changed)
        unsubscribe: Unsubscribe = token.remove  # the realm is duck-typed (Any)
        return unsubscribe

    def find(self, key: int) -> int | None:
        for i, row in enumerate(self._current()):
            if is_object(row) and object_key(row) == key:
                return i
        return None


class CollectionSource(_SnapshotSource):
    """A list, set or dictionary property of one object, shown as the table's rows.

    Lists and sets of objects show the objects (their properties are the columns);
    other collections show one row per element, with a ``key`` column for dictionaries.
    """

    def __init__(self, owner: Any, prop: Property, *, realm: Any = None,
                 read_only: bool = False) -> None:
        super().__init__(owner, prop, realm, read_only)
        owner_schema = owner.object_schema
        self.title = f"{owner_schema.name}.{prop.name}"
        self.element = element_property(prop)
        self.object_rows = prop.type == "object" and prop.collection in ("list", "set")
        if self.object_rows and realm is not None:
            target = next(s for s in realm.schema if s.name == prop.object_type)
            self.object_schema = target
            self.columns = [Column(p.name, p) for p in target.properties]
        else:
            self.object_schema = None
            self.columns = [Column("value", self.element, "element")]
            if prop.collection == "dictionary":
                self.columns.insert(0, Column("key", None, "key"))

    @property
    def is_list(self) -> bool:
        return self.prop.collection == "list"

    def collection(self) -> Any:
        return self.owner[self.prop.name]

    def _read(self) -> list[Any]:
        coll = self.collection()
        if self.prop.collection == "dictionary":
            return [Element(i, k, v) for i, (k, v) in enumerate(coll.items())]
        items = list(coll)
        if self.object_rows:
            return items
        return [Element(i, None, v) for i, v in enumerate(items)]

    def write_value(self, row: Any, column: Column, value: Any) -> None:
        if column.kind == "property":
            row[column.name] = value
            return
        coll = self.collection()
        if column.kind == "key":
            current = coll[row.key]
            del coll[row.key]
            coll[value] = current
        elif self.prop.collection == "list":
            coll[row.index] = value
        elif self.prop.collection == "set":
            coll.discard(row.value)
            coll.add(value)
        else:
            coll[row.key] = value

    def can_edit(self, column: Column) -> bool:
        if column.kind == "key" and self.element.type == "object":
            target = self.object_schema
            if target is not None and target.embedded:
                return False
        if column.kind == "element" and self.element.type == "object":
            return not self.read_only and self.realm is not None and not self._embedded_target()
        return super().can_edit(column)

    def _embedded_target(self) -> bool:
        if self.realm is None or not self.prop.object_type:
            return False
        target = next((s for s in self.realm.schema if s.name == self.prop.object_type), None)
        return bool(target is not None and target.embedded)


class BacklinkSource(_SnapshotSource):
    """The objects whose link points at ``owner`` through a linkingObjects property.

    The objects themselves are editable; which objects link here is computed, so rows
    cannot be added or removed in this view.
    """

    def __init__(self, owner: Any, prop: Property, *, realm: Any = None,
                 read_only: bool = False) -> None:
        super().__init__(owner, prop, realm, read_only)
        self.title = f"{owner.object_schema.name}.{prop.name}"
        origin = prop.object_type or ""
        schema = next((s for s in realm.schema if s.name == origin), None) if realm else None
        if schema is None:
            first = next(iter(owner[prop.name]), None)
            schema = first.object_schema if first is not None else None
        self.object_schema = schema
        self.columns = [Column(p.name, p) for p in schema.properties] if schema else []

    def _read(self) -> list[Any]:
        return list(self.owner[self.prop.name])


def diff_rows(old: Sequence[Hashable], new: Sequence[Hashable]) -> TableChanges:
    """Row removals (old indices) and inserts (new indices) that turn ``old`` into ``new``.

    Rows kept in place are reported as modified: their cells are re-read anyway, and a
    collection's element objects may have changed without the collection changing.
    """
    matcher = difflib.SequenceMatcher(a=list(old), b=list(new), autojunk=False)
    deletions: list[int] = []
    insertions: list[int] = []
    kept: list[int] = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            kept.extend(range(b0, b1))
            continue
        deletions.extend(range(a0, a1))
        insertions.extend(range(b0, b1))
    return TableChanges(tuple(deletions), tuple(insertions), tuple(kept))
