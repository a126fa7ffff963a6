"""Read-only objects and lazy results, shaped like studio.core's so that the
Studio's table view works on both.

A :class:`RealmObject` knows only where its row is (cluster and row index);
each property is decoded when it is read. :class:`Results` is a lazy sequence
over a class: ``len()`` reads one node, indexing walks the tree once and then
decodes only the clusters that are touched.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterator, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from studio.core.schema import ObjectSchema
from studio.realmfile.errors import CorruptRealmError, RealmFileError, UnknownNameError
from studio.realmfile.tables import TableInfo
from studio.realmfile.trees import ClusterLeaf

if TYPE_CHECKING:
    from studio.realmfile.reader import RealmFile

P = ParamSpec("P")
R = TypeVar("R")

# Errors that decoding a damaged file could still raise from the standard
# library despite the bounds checks (a last line of defence: the user gets a
# RealmFileError, never a traceback from struct or datetime).
_UNEXPECTED = (
    IndexError,
    KeyError,
    ValueError,
    TypeError,
    struct.error,
    OverflowError,
    RecursionError,
    UnicodeError,
    ZeroDivisionError,
)


_OWN_SLOTS = frozenset({"_cells", "_row", "key"})


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except RealmFileError:
            raise
        except _UNEXPECTED as exc:
            raise _inconsistent(exc) from exc

    return wrapper


def _inconsistent(exc: BaseException) -> CorruptRealmError:
    return CorruptRealmError(
        f"the file is inconsistent: reading it failed with {type(exc).__name__}: {exc}"
    )


class ClusterCells(dict[str, list[Any]]):
    """The shared state of the objects of one cluster, and their fast path.

    As a dict it maps a property name to the finished values of that column for
    every row of the cluster (``values[row]`` is what ``obj[name]`` returns), for
    the columns whose values are immutable once decoded: scalars, and links
    resolved to their targets. Collections (fresh lists and dicts on every read)
    and values whose resolution failed are never stored, so they always take the
    slow path. It is a dict subclass rather than an attribute of one so that the
    hottest line of the reader is a single dict lookup.

    ``raw`` holds the decoded column leaves by leaf index; ``columns`` the
    finished lists in property order once every property has them (to_dict()
    then builds a row with one zip). :class:`RealmFile` keeps ClusterCells in a
    bounded LRU; an evicted or closed one is emptied (:meth:`drop`), which sends
    the objects still holding it to the slow path, where they pick up the
    current one (or get the "closed" error).
    """

    __slots__ = ("columns", "leaf", "raw", "refs", "rf", "table")

    def __init__(self, rf: RealmFile, table: TableInfo, leaf: ClusterLeaf) -> None:
        super().__init__()
        self.rf = rf
        self.table = table
        self.leaf = leaf
        self.raw: dict[int, list[Any]] = {}
        self.columns: list[list[Any]] | None = None
        self.refs: list[int] | None = None  # the cluster node's elements, once read

    def drop(self) -> None:
        self.clear()
        self.raw.clear()
        self.columns = None
        self.refs = None


class RealmObject:
    """One object of a genuine realm file, read-only. ``obj["name"]``,
    ``obj.name``, ``obj.key`` (Realm's object key), ``obj.to_dict()``."""

    __slots__ = ("_cells", "_row", "key")
    _cells: ClusterCells
    _row: int
    key: int

    def __init__(self, cells: ClusterCells, row: int, key: int) -> None:
        # Assigned through the slot descriptors: the class refuses attribute writes.
        _set_cells(self, cells)
        _set_row(self, row)
        _set_key(self, key)

    @property
    def _rf(self) -> RealmFile:
        return self._cells.rf

    @property
    def _table(self) -> TableInfo:
        return self._cells.table

    @property
    def _leaf(self) -> ClusterLeaf:
        return self._cells.leaf

    @property
    def class_name(self) -> str:
        return self._table.name

    @property
    def object_schema(self) -> ObjectSchema:
        return self._rf.object_schema(self._table.name)

    def __getitem__(self, name: str) -> Any:
        # The hottest path of the reader (a table view reads every cell through it):
        # one dict lookup and one list index for a column already decoded. (try is
        # free in CPython 3.11+ and a subscript is cheaper than a .get() call; the
        # slow path is called outside the except so its errors carry no KeyError.)
        try:
            return self._cells[name][self._row]
        except KeyError:
            pass
        return self._slow_get(name)

    def _slow_get(self, name: str) -> Any:
        table = self._cells.table
        col = table.by_name.get(name)
        if col is None:
            raise UnknownNameError(
                f"class {table.name!r} has no property {name!r}; its properties are: "
                f"{', '.join(c.name for c in table.columns)}"
            )
        # The guard of `guarded` is inlined: this runs once per column and cluster.
        try:
            return self._cells.rf._value(self, col)
        except RealmFileError:
            raise
        except _UNEXPECTED as exc:
            raise _inconsistent(exc) from exc

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not slots or methods: properties such as
        # ``_id`` are common, so only dunder names are refused (copy, pickle probe them).
        if name.startswith("__") or name in _OWN_SLOTS:
            # (An unset slot of an object made without __init__, e.g. by copy:
            # looking it up as a property would recurse.)
            raise AttributeError(name)
        try:
            return self[name]
        except UnknownNameError as exc:
            raise AttributeError(str(exc)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise RealmFileError("objects of a Realm Core file are read-only")

    def __contains__(self, name: object) -> bool:
        return name in self._table.by_name

    def keys(self) -> list[str]:
        return list(self._cells.table.names)

    def __iter__(self) -> Iterator[str]:
        """Property names, so that an object reads like a (read-only) mapping."""
        return iter(self._cells.table.names)

    @guarded
    def to_dict(self) -> dict[str, Any]:
        """Plain values: links as the target's primary key (its object key when it
        has none), embedded objects nested, collections as lists and dicts."""
        return self._rf._plain_object(self, 0)

    @guarded
    def linking_objects(self, origin_class: str, origin_property: str) -> list[RealmObject]:
        """The objects of ``origin_class`` whose ``origin_property`` links here
        (read from the backlinks Realm keeps, not by a scan)."""
        return self._rf._linking_objects(self, origin_class, origin_property)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, RealmObject)
            and other._rf is self._rf
            and other._table.key == self._table.key
            and other.key == self.key
        )

    def __hash__(self) -> int:
        return hash((id(self._rf), self._table.key, self.key))

    def __repr__(self) -> str:
        pk = self._table.primary_key
        if pk is not None:
            try:
                return f"<{self._table.name} {pk.name}={self[pk.name]!r}>"
            except RealmFileError:
                pass
        return f"<{self._table.name} key={self.key}>"


# The slot descriptors, called directly: RealmObject.__setattr__ refuses writes,
# and this is faster than object.__setattr__ for the objects made in bulk.
_set_cells = vars(RealmObject)["_cells"].__set__
_set_row = vars(RealmObject)["_row"].__set__
_set_key = vars(RealmObject)["key"].__set__


def _make_objects(cells: ClusterCells, keys: Sequence[int]) -> list[RealmObject]:
    """``[RealmObject(cells, row, key) for row, key in enumerate(keys)]``, with
    the loops in C (``map`` over the slot setters): making the objects is a
    sizeable part of iterating a class."""
    n = len(keys)
    objs: list[RealmObject] = list(map(object.__new__, repeat(RealmObject, n)))
    for _ in map(_set_cells, objs, repeat(cells, n)):
        pass
    for _ in map(_set_row, objs, range(n)):
        pass
    for _ in map(_set_key, objs, keys):
        pass
    return objs


@guarded
def _leaf_objects(rf: RealmFile, table: TableInfo, leaf: ClusterLeaf) -> list[RealmObject]:
    return _make_objects(rf._cluster(table, leaf), table.tree.keys(leaf))


class Results(Sequence[RealmObject]):
    """All objects of one class, in the file's order; lazy."""

    def __init__(self, rf: RealmFile, table: TableInfo) -> None:
        self._rf = rf
        self._table = table

    @property
    def class_name(self) -> str:
        return self._table.name

    @property
    def object_schema(self) -> ObjectSchema:
        return self._rf.object_schema(self._table.name)

    @guarded
    def __len__(self) -> int:
        self._rf._check_open()
        return self._table.tree.size()

    @overload
    def __getitem__(self, index: int) -> RealmObject: ...

    @overload
    def __getitem__(self, index: slice) -> list[RealmObject]: ...

    def __getitem__(self, index: int | slice) -> RealmObject | list[RealmObject]:
        n = len(self)
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(n))]
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"index {index} out of range for {n} objects of {self._table.name}")
        return self._at(index)

    @guarded
    def _at(self, index: int) -> RealmObject:
        self._rf._check_open()
        tree = self._table.tree
        leaf, row = tree.locate(index)
        return RealmObject(self._rf._cluster(self._table, leaf), row, tree.keys(leaf)[row])

    def __iter__(self) -> Iterator[RealmObject]:
        # Cluster by cluster: the objects of a cluster share one ClusterCells, so
        # each column leaf is decoded once for all of them.
        rf = self._rf
        rf._check_open()
        table = self._table
        tree = table.tree
        leaves = guarded(tree.leaves)()
        for leaf in leaves:
            yield from _leaf_objects(rf, table, leaf)

    def __repr__(self) -> str:
        return f"<Results of {self._table.name}>"
