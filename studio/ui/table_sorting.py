"""Sorting of the object table's model: by a column through the row source, or,
for many rows, in a worker thread (:mod:`studio.ui.background_sort`) while the
window stays responsive. Mixed into :class:`~studio.ui.table_model.ObjectTableModel`,
which owns the state used here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, SignalInstance

from studio.ui.background_sort import SortRunner, sorted_keys_in_child
from studio.ui.sources import Column, ResultsSource, RowSource
from studio.ui.wording import plural


class TableSorting:
    """The sorting half of the object table's model."""

    sorter: SortRunner
    background_sort_rows: int
    sortChanged: SignalInstance
    sortStarted: SignalInstance
    sortFinished: SignalInstance
    _source: RowSource | None
    _columns: list[Column]
    _total: int
    _exposed: int
    resubscription: Callable[[], str]
    set_source: Callable[..., None]
    expose: Callable[[int], None]
    column_named: Callable[[str], int]
    _report: Callable[..., None]

    def can_sort(self, column: int) -> bool:
        return (
            self._source is not None
            and 0 <= column < len(self._columns)
            and self._source.can_sort(self._columns[column])
        )

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by a column (Qt's entry point); ``column`` -1 returns to the unsorted order."""
        source = self._source
        if source is None:
            return
        if column < 0:
            sorted_source = source.with_sort(None)
        elif self.can_sort(column):
            ascending = order == Qt.SortOrder.AscendingOrder
            if (isinstance(source, ResultsSource) and source.sorts_in_background
                    and (self._total >= self.background_sort_rows
                         or source.always_sorts_in_background)):
                self._sort_in_background(source, self._columns[column], ascending)
                return
            sorted_source = source.with_sort(self._columns[column], ascending)
        else:
            return
        if sorted_source is not None:
            keep = self._exposed
            self.set_source(sorted_source, subscribe=self.resubscription())
            self.expose(keep)
            self.sortChanged.emit()

    def _sort_in_background(self, source: ResultsSource, column: Column,
                            ascending: bool) -> None:
        """Sort many rows in a worker thread (see :mod:`studio.ui.background_sort`): the
        window stays responsive, ``sortStarted`` says what runs, :meth:`cancel_sort`
        stops waiting for it."""
        realm = source.realm
        name = source.object_schema.name
        job = source.sort_job(column, ascending)
        if job is None:
            def job(cancelled: Callable[[], bool]) -> Any:
                return sorted_keys_in_child(realm.path, name, source.query, column.name,
                                            ascending, cancelled)

        def resort(done: Callable[[Any], None]) -> None:  # after a change: quietly
            self.sorter.start_job(job, lambda keys, error: self._report(error, always=True)
                                  if error is not None else done(keys))

        def finished(keys: Any, error: Exception | None) -> None:
            self.sortFinished.emit()
            if error is not None:
                self._report(error, always=True)
                return
            if self._source is not source:  # the view changed meanwhile
                return
            keep = self._exposed
            self.set_source(source.with_sorted_keys(column, ascending, keys, resort),
                            subscribe=self.resubscription())
            self.expose(keep)
            self.sortChanged.emit()

        self.sortStarted.emit(f"Sorting {plural(self._total, 'object')} by {column.name}…")
        self.sorter.start_job(job, finished)

    def cancel_sort(self) -> None:
        """Stop waiting for a sort running in the background: the rows stay as they are."""
        if self.sorter.busy:
            self.sorter.cancel()
            self.sortFinished.emit()

    def clear_sort(self) -> None:
        self.sort(-1)

    def sort_state(self) -> tuple[int, Qt.SortOrder] | None:
        """The sorted column and its order, or None when unsorted."""
        state = self._source.sort_state if self._source is not None else None
        if state is None:
            return None
        column = self.column_named(state[0])
        order = Qt.SortOrder.AscendingOrder if state[1] else Qt.SortOrder.DescendingOrder
        return (column, order) if column >= 0 else None
