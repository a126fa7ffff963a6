"""A genuine Realm Core file's class as the table's rows (the Qt-facing part).

The read-only, Realm-like view of the file is :mod:`studio.realmfile.browse`; this
module fits its Results to the table model's :class:`ResultsSource`. Queries and sorts
of a Core file are scans in Python (:mod:`studio.realmfile.query`): they run in the
table's worker thread (:mod:`studio.ui.background_sort`) over a reader of the worker's
own, and come back as positions in the class (:class:`CoreSelection`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from studio.realmfile.browse import CoreFileRealm, CoreResults, CoreSelection
from studio.realmfile.query import compile_query, sort_positions
from studio.ui.sources import Column, ResultsSource, RowSource, sortable_property

Rows = CoreResults | CoreSelection


def core_positions(path: str, class_name: str, query: str, sort: tuple[str, bool] | None,
                   cancelled: Callable[[], bool] = lambda: False
                   ) -> tuple[list[int], list[int]]:
    """In a worker: the positions of ``class_name`` objects matching ``query`` (all when
    empty), unsorted and sorted by ``sort`` (the same list when None), read through a
    reader of this thread's own."""
    realm = CoreFileRealm.open(path)
    try:
        objects = realm.objects(class_name)
        if query:
            matching = compile_query(query, class_name, realm.object_schema).run(
                objects, cancelled=cancelled)
        else:
            matching = list(range(len(objects)))
        if sort is None or cancelled():
            return matching, matching
        return matching, sort_positions(objects, matching, sort[0], sort[1])
    finally:
        realm.close()


class CoreResultsSource(ResultsSource):
    """A class of the file (or a query's answer, or a sorted order) as the table's rows:
    read-only, static, found by object key."""

    results: Rows
    always_sorts_in_background = True

    def __init__(self, results: Rows, *, unsorted: Rows | None = None,
                 sort: tuple[str, bool] | None = None, query: str = "") -> None:
        super().__init__(results, realm=results.realm, read_only=True, unsorted=unsorted,
                         sort=sort, query=query)
        self.core_realm = results.realm

    @property
    def sorts_in_background(self) -> bool:
        return True

    def can_sort(self, column: Column) -> bool:
        return column.kind == "property" and sortable_property(column.prop)

    def with_sort(self, column: Column | None, ascending: bool = True) -> RowSource | None:
        if column is None:
            return CoreResultsSource(self.unsorted, query=self.query)
        return None  # sorted in the worker only (see sort_job)

    def sort_job(self, column: Column, ascending: bool
                 ) -> Callable[[Callable[[], bool]], Sequence[int]]:
        path, name, query = self.core_realm.path, self.object_schema.name, self.query

        def job(cancelled: Callable[[], bool]) -> Sequence[int]:
            return core_positions(path, name, query, (column.name, ascending), cancelled)[1]

        return job

    def with_sorted_keys(self, column: Column, ascending: bool, keys: Sequence[int],
                         resort: Callable[[Callable[[Sequence[int]], None]], None]
                         ) -> Any:
        """The rows in the order the worker computed (``keys`` are positions in the
        class: a Core file's objects are read by position)."""
        return CoreResultsSource(
            CoreSelection(self.core_realm, self.object_schema.name, keys, self.query),
            unsorted=self.unsorted, sort=(column.name, ascending), query=self.query)

    def find(self, key: int) -> int | None:
        position = self.core_realm.index_of_key(self.object_schema.name, key)
        if position is None or not isinstance(self.results, CoreSelection):
            return position
        return self.results.row_of_position(position)
