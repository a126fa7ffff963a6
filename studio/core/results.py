"""Results: a live, lazily evaluated view of the objects of a class that match a query.

A Results loads the ordered object keys on first use (an ``array('q')``, 8 bytes
an object) and builds objects on demand. While it has listeners it keeps those
keys current after every commit: a change of a few objects is applied in place
(binary search for new positions), so its cost follows the size of the change,
not of the collection; large or cross-class changes fall back to re-running the
query and diffing.
"""

from __future__ import annotations

import bisect
import functools
import json
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from studio.core.changes import CollectionChanges, TransactionChanges
from studio.core.notify import NotificationToken
from studio.core.objects import RealmObject, object_with_row
from studio.core.query import QueryPlan, SortKey

if TYPE_CHECKING:
    from studio.core.classinfo import ClassInfo
    from studio.core.realm import Realm
    from studio.core.store import Store

# Above this many changed objects of the class, re-running the query is cheaper.
_INCREMENTAL_LIMIT = 2000
_CHUNK = 2000


class Results:
    """Objects of one class matching a query, in order. Live: reflects the latest state."""

    __slots__ = (
        "_diff_in_full", "_info", "_keys", "_keys_version", "_listeners", "_observed", "_plan",
        "_realm", "_store",
    )

    def __init__(self, store: Store, info: ClassInfo, plan: QueryPlan) -> None:
        self._store = store
        # Held so that a Results keeps its realm open, as its objects do.
        self._realm = store.realm
        self._info = info
        self._plan = plan
        self._keys: array[int] | None = None
        self._keys_version: tuple[int, ...] = ()
        # The keys as of the last notification: the "old" side of the next change set.
        self._observed: array[int] | None = None
        # Set when listening starts inside a write transaction: that commit's changes partly
        # happened before the listener saw the results, so only a full diff is right.
        self._diff_in_full = False
        self._listeners: list[Callable[[Results, CollectionChanges], None]] = []

    # -- building -------------------------------------------------------------------------

    @property
    def class_name(self) -> str:
        return self._info.name

    @property
    def object_schema(self) -> Any:
        return self._info.schema

    @property
    def realm(self) -> Realm:
        return self._realm

    @property
    def plan(self) -> QueryPlan:
        return self._plan

    def filtered(self, query: str, *args: Any) -> Results:
        """The objects that also match ``query`` (Realm Query Language; ``$0``... are ``args``)."""
        return Results(self._store, self._info, self._plan.filtered(query, args))

    def sorted(
        self, keypath: str | Sequence[str | tuple[str, bool]], reverse: bool = False
    ) -> Results:
        """Sorted by one key path, or several (``[("age", False), "name"]`` = age descending,
        then name ascending). ``reverse`` flips plain key paths."""
        if isinstance(keypath, str):
            keys = [SortKey(keypath, not reverse)]
        else:
            keys = [
                SortKey(k, not reverse) if isinstance(k, str) else SortKey(k[0], bool(k[1]))
                for k in keypath
            ]
        return Results(self._store, self._info, self._plan.sorted(keys))

    def snapshot(self) -> list[RealmObject]:
        """The current objects as a plain list that does not change."""
        return list(self)

    # -- reading --------------------------------------------------------------------------

    def _stamp(self) -> tuple[int, ...]:
        return self._store.stamp(self._info.name, self._plan.dependencies)

    def _current_keys(self) -> array[int]:
        store = self._store
        store.check_open()
        stamp = self._stamp()
        if self._keys is None or self._keys_version != stamp:
            sql, params = self._plan.select_keys_sql()
            # One JSON array built inside SQLite is about a third cheaper than a Python
            # tuple per row; SQLite feeds the aggregate in the subquery's order.
            (text,) = store.conn.execute(
                f'SELECT json_group_array("@key") FROM ({sql})', params
            ).fetchone()
            keys: array[int] = array("q", json.loads(text))
            self._keys = keys
            self._keys_version = stamp
        return self._keys

    def __len__(self) -> int:
        store = self._store
        store.check_open()
        if self._keys is not None and self._keys_version == self._stamp():
            return len(self._keys)
        sql, params = self._plan.count_sql()
        return int(store.conn.execute(sql, params).fetchone()[0])

    def __bool__(self) -> bool:
        return len(self) > 0

    @overload
    def __getitem__(self, index: int) -> RealmObject: ...
    @overload
    def __getitem__(self, index: slice) -> list[RealmObject]: ...
    def __getitem__(self, index: int | slice) -> RealmObject | list[RealmObject]:
        keys = self._current_keys()
        store = self._store
        if isinstance(index, slice):
            return [RealmObject(store, self._info, k) for k in keys[index]]
        try:
            return RealmObject(store, self._info, keys[index])
        except IndexError:
            raise IndexError(
                f"index {index} out of range for {len(keys)} {self._info.name} results"
            ) from None

    def __iter__(self) -> Iterator[RealmObject]:
        realm = self._realm
        store = self._store
        store.check_open()
        info = self._info
        sql, params = self._plan.select_keys_sql()
        prefix = f'SELECT t0."@key" FROM {info.table} AS t0 '
        if (
            store.writer is None
            and (self._keys is None or self._keys_version != self._stamp())
            and sql.startswith(prefix)
        ):
            # Outside a write nothing changes under the cursor: when the query selects
            # straight from the class table, select whole rows instead of keys and stream them.
            columns = ", ".join("t0." + name for name in info.column_names)
            cursor = store.conn.execute(
                f"SELECT {columns} FROM {info.table} AS t0 {sql[len(prefix):]}", params
            )
            make = object_with_row
            while rows := cursor.fetchmany(_CHUNK):
                for row in rows:
                    yield make(realm, store, info, row)
            return
        keys = self._current_keys()
        # Inside a write the keys are taken first, then rows fetched in chunks.
        select = info.select_many_sql
        conn = store.conn
        make = object_with_row
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK].tolist()
            # Objects deleted meanwhile simply have no row and are skipped.
            for row in conn.execute(select, (json.dumps(chunk),)).fetchall():
                yield make(realm, store, info, row)

    def page(self, offset: int, limit: int) -> list[RealmObject]:
        """``limit`` objects from ``offset`` on, without loading every key of the results
        (the Studio paints its first rows from this while the keys load)."""
        store = self._store
        if self._keys is not None and self._keys_version == self._stamp():
            return self[offset : offset + limit]
        store.check_open()
        sql, params = self._plan.select_keys_sql()
        rows = store.conn.execute(
            f"SELECT * FROM ({sql}) LIMIT ? OFFSET ?", [*params, max(0, limit), max(0, offset)]
        ).fetchall()
        return [RealmObject(store, self._info, row[0]) for row in rows]

    def __contains__(self, obj: object) -> bool:
        if not isinstance(obj, RealmObject) or obj._info is not self._info:
            return False
        return obj._key in self._current_keys()

    def index(self, obj: RealmObject) -> int:
        return self._current_keys().index(obj._key)

    def __repr__(self) -> str:
        return f"<Results of {self._info.name}: {len(self)} objects>"

    def keys(self) -> array[int]:
        """The object keys in result order (a copy)."""
        return array("q", self._current_keys())

    # -- listening ------------------------------------------------------------------------

    def add_listener(
        self, callback: Callable[[Results, CollectionChanges], None]
    ) -> NotificationToken:
        """``callback(results, changes)`` after each commit that changed these results."""
        if self._observed is None:
            self._observed = self._current_keys()
            self._diff_in_full = self._store.writer is not None
        self._listeners.append(callback)
        self._store.notifier.watch_results(self)

        def remove() -> None:
            for i, cb in enumerate(self._listeners):
                if cb is callback:
                    del self._listeners[i]
                    break
            if not self._listeners:
                self._observed = None
                self._store.notifier.unwatch_results(self)

        return NotificationToken(remove)

    def _deliver(self, changes: TransactionChanges) -> None:
        collection_changes = self._compute_changes(changes)
        if collection_changes is None or not collection_changes:
            return
        for callback in list(self._listeners):
            try:
                callback(self, collection_changes)
            except Exception:
                import logging

                logging.getLogger(__name__).exception("a results listener raised")

    def _compute_changes(self, changes: TransactionChanges) -> CollectionChanges | None:
        old = self._observed
        if old is None:
            return None
        own = changes.classes.get(self._info.name)
        if self._diff_in_full:
            self._diff_in_full = False
            return self._full_diff(old, own.modified if own else {})
        deps = any(name in changes.classes for name in self._plan.dependencies)
        if not own and not deps and not changes.full_reset:
            return None
        if (
            changes.full_reset
            or deps
            or not self._plan.is_incremental
            or own is None
            or len(own) > _INCREMENTAL_LIMIT
        ):
            return self._full_diff(old, own.modified if own else {})
        return self._incremental(old, own.inserted, own.deleted, own.modified)

    # -- change computation ----------------------------------------------------------------

    def _reload(self) -> array[int]:
        self._keys = None
        return self._current_keys()

    def _full_diff(self, old: array[int], modified: dict[int, set[str]]) -> CollectionChanges:
        new = self._observed = self._reload()
        return diff_keys(old, new, modified)

    def _sort_row(self, key: int) -> tuple[Any, ...] | None:
        sql, params = self._plan.sort_values_sql([key])
        row = self._store.conn.execute(sql, params).fetchone()
        return None if row is None else tuple(row)

    def _incremental(
        self,
        old: array[int],
        inserted: set[int],
        deleted: set[int],
        modified: dict[int, set[str]],
    ) -> CollectionChanges:
        store = self._store
        plan = self._plan
        sort_keys = plan.sort_keys
        sort_props = {k.keypath.split(".", 1)[0] for k in sort_keys}
        candidates = [k for k in (*inserted, *modified) if k not in deleted]
        matching: set[int] = set()
        if not plan.filters_objects:
            # Inserted or modified and not deleted: the object exists, so it belongs
            # (the common listener on a whole class; no query per commit).
            matching.update(candidates)
            candidates = []
        for start in range(0, len(candidates), 500):
            sql, params = plan.match_keys_sql(candidates[start : start + 500])
            matching.update(r[0] for r in store.conn.execute(sql, params))

        if sort_keys:
            cmp = functools.cmp_to_key(plan.compare_sort_rows)
            rows: dict[int, Any] = {}

            def sort_key(k: int) -> Any:
                row = rows.get(k)
                if row is None:
                    fetched = self._sort_row(k)
                    row = rows[k] = cmp(fetched if fetched is not None else (k,))
                return row

            def old_position(k: int, moved: bool) -> int:
                # Unmoved objects keep their sort values, so the old array is still ordered
                # for them; a binary search finds them unless a deleted neighbour is probed.
                if not moved and not deleted:
                    i = bisect.bisect_left(old, sort_key(k), key=sort_key)
                    if i < len(old) and old[i] == k:
                        return i
                try:
                    return old.index(k)
                except ValueError:
                    return len(old)

            def new_position(arr: array[int], k: int) -> int:
                return bisect.bisect_left(arr, sort_key(k), key=sort_key)
        else:

            def old_position(k: int, moved: bool) -> int:
                return bisect.bisect_left(old, k)

            def new_position(arr: array[int], k: int) -> int:
                return bisect.bisect_left(arr, k)

        removed: dict[int, int] = {}  # key -> old index
        to_insert: list[int] = []
        stay_modified: list[int] = []
        present_cache: dict[int, int | None] = {}

        def old_index(k: int, moved: bool) -> int | None:
            if k not in present_cache:
                i = old_position(k, moved)
                present_cache[k] = i if i < len(old) and old[i] == k else None
            return present_cache[k]

        for k in deleted:
            i = old_index(k, True)
            if i is not None:
                removed[k] = i
        for k, props in modified.items():
            if k in deleted:
                continue
            moved = bool(props & sort_props)
            i = old_index(k, moved)
            if k in matching:
                if i is None:
                    to_insert.append(k)
                elif moved:
                    removed[k] = i
                    to_insert.append(k)
                else:
                    stay_modified.append(k)
            elif i is not None:
                removed[k] = i
        for k in inserted:
            if k in matching:
                to_insert.append(k)

        new = array("q", old)
        for i in sorted(removed.values(), reverse=True):
            del new[i]
        for k in to_insert:
            new.insert(new_position(new, k), k)
        self._keys = self._observed = new
        self._keys_version = self._stamp()

        inserted_set = set(to_insert)
        if len(to_insert) > 50 or len(stay_modified) > 50:
            # Many positions to look up: one pass over the array is cheaper than searches.
            where = {k: i for i, k in enumerate(new) if k in inserted_set or k in modified}
            insertions = sorted(where[k] for k in to_insert)
            new_mods = [where[k] for k in stay_modified]
        else:
            insertions = sorted(_find(new, k, new_position) for k in to_insert)
            new_mods = [_find(new, k, new_position) for k in stay_modified]
        old_mods = [present_cache[k] for k in stay_modified]
        return CollectionChanges(
            deletions=tuple(sorted(removed.values())),
            insertions=tuple(insertions),
            modifications=tuple(sorted(i for i in old_mods if i is not None)),
            new_modifications=tuple(sorted(new_mods)),
        )


def _find(arr: array[int], key: int, position: Callable[[array[int], int], int]) -> int:
    i = position(arr, key)
    if i < len(arr) and arr[i] == key:
        return i
    return arr.index(key)


def diff_keys(
    old: Sequence[int], new: Sequence[int], modified: dict[int, set[str]]
) -> CollectionChanges:
    """Realm-shaped changes between two key sequences.

    Objects whose relative order changed are reported as a deletion and an
    insertion; the ones kept in place are found as a longest increasing
    subsequence of their old positions.
    """
    old_index = {k: i for i, k in enumerate(old)}
    new_index = {k: i for i, k in enumerate(new)}
    deletions = [i for i, k in enumerate(old) if k not in new_index]
    insertions = [i for i, k in enumerate(new) if k not in old_index]
    common = [k for k in new if k in old_index]
    stable = set(_longest_increasing([old_index[k] for k in common]))
    for k in common:
        if old_index[k] not in stable:
            deletions.append(old_index[k])
            insertions.append(new_index[k])
    modifications = []
    new_modifications = []
    for k in modified:
        if k in old_index and k in new_index and old_index[k] in stable:
            modifications.append(old_index[k])
            new_modifications.append(new_index[k])
    return CollectionChanges(
        tuple(sorted(deletions)),
        tuple(sorted(insertions)),
        tuple(sorted(modifications)),
        tuple(sorted(new_modifications)),
    )


def _longest_increasing(seq: list[int]) -> list[int]:
    """Values of a longest strictly increasing subsequence (patience sorting)."""
    if not seq:
        return []
    tails: list[int] = []
    tail_idx: list[int] = []
    prev = [-1] * len(seq)
    for i, value in enumerate(seq):
        j = bisect.bisect_left(tails, value)
        if j == len(tails):
            tails.append(value)
            tail_idx.append(i)
        else:
            tails[j] = value
            tail_idx[j] = i
        prev[i] = tail_idx[j - 1] if j > 0 else -1
    out = []
    i = tail_idx[-1]
    while i >= 0:
        out.append(seq[i])
        i = prev[i]
    return out[::-1]
